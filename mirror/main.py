"""`codeswarm-mirror`: serve the mirror on its own (the deployment mode).  Settings come from
CODESWARM_* environment variables (services/settings.py); the process first moves them out of its
/proc/<pid>/environ (services/private_environ.py), where every agent of the same user could read them."""

from __future__ import annotations

from services.private_environ import hide_environment


def main() -> None:
    hide_environment()  # re-executes this process: the app is imported after, once
    from mirror.app import create_app
    from services.serve import serve

    serve("mirror", create_app)


if __name__ == "__main__":
    main()
