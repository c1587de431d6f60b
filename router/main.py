"""`codeswarm-router`: serve the router on its own (the deployment mode).  Settings come from
CODESWARM_* environment variables (services/settings.py); the process first moves them out of its
/proc/<pid>/environ (services/private_environ.py), where every agent of the same user could read them."""

from __future__ import annotations

from services.private_environ import hide_environment


def main() -> None:
    hide_environment()  # re-executes this process: the app is imported after, once
    from router.app import create_app
    from services.serve import serve

    serve("router", create_app)


if __name__ == "__main__":
    main()
