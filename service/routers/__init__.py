"""HTTP routes: classes (registry), recognize (inference), health (healthz, readyz, info, metrics)."""
