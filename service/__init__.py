"""Online part of SCALE: the FastAPI service, its settings and its class registry (never imports training/)."""
