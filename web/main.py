"""`codeswarm-web`: serve the browser UI on its own (the deployment mode).  Settings come from
CODESWARM_* environment variables (services/settings.py); CODESWARM_MIRROR_URL must be the mirror's
address as the *browser* reaches it."""

from __future__ import annotations

from services.serve_process import run_service


def main() -> None:
    run_service("web", "web.app")


if __name__ == "__main__":
    main()
