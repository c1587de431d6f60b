"""`codeswarm-mirror`: serve the mirror on its own (the deployment mode).  Settings come from
CODESWARM_* environment variables (services/settings.py)."""

from __future__ import annotations

from services.serve_process import run_service


def main() -> None:
    run_service("mirror", "mirror.app")


if __name__ == "__main__":
    main()
