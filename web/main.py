"""`codeswarm-web`: serve the browser UI on its own (the deployment mode).  Settings come from
CODESWARM_* environment variables (services/settings.py); CODESWARM_MIRROR_URL must be the mirror's
address as the *browser* reaches it.  The process first moves its settings out of its
/proc/<pid>/environ (services/private_environ.py), where every agent of the same user could read them."""

from __future__ import annotations

from services.private_environ import hide_environment


def main() -> None:
    hide_environment()  # re-executes this process: the app is imported after, once
    from services.serve import serve
    from web.app import create_app

    serve("web", create_app)


if __name__ == "__main__":
    main()
