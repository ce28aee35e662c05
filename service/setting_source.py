"""Where a setting's value came from, for error messages (flag, environment variable, docker compose .env)."""

from __future__ import annotations

import os

from service.settings import env_name


def setting_source(field: str, flag: str | None = None) -> str:
    """'the --flag flag', 'the environment variable SCALE_X ...', or 'the settings passed to create_app'."""
    if flag is not None:
        return f"the {flag} flag"
    variable = env_name(field)
    if variable in os.environ:
        return (f"the environment variable {variable} (set in the shell, or from `.env` / `environment:` when "
                "run by docker compose)")
    return f"the settings passed to the service ({field})"
