"""`codeswarm-router`: serve the router on its own (the deployment mode).  Settings come from
CODESWARM_* environment variables (services/settings.py)."""

from __future__ import annotations

from router.app import create_app
from services.serve import serve


def main() -> None:
    serve("router", create_app)


if __name__ == "__main__":
    main()
