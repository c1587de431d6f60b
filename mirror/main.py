"""`codeswarm-mirror`: serve the mirror on its own (the deployment mode).  Settings come from
CODESWARM_* environment variables (services/settings.py)."""

from __future__ import annotations

from mirror.app import create_app
from services.serve import serve


def main() -> None:
    serve("mirror", create_app)


if __name__ == "__main__":
    main()
