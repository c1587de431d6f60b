"""The `main()` of a service run on its own: its settings are first moved out of its
/proc/<pid>/environ (services/private_environ.py), where every agent of the same user could read them,
then the service's app is imported and served (services/serve.py)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from services.private_environ import hide_environment

if TYPE_CHECKING:
    from services.serve import Service


def run_service(service: Service, app_module: str) -> None:
    """Serve ``app_module``'s ``create_app`` as ``service``."""
    hide_environment()  # re-executes this process: the app and the server are imported after, once
    from services.serve import serve

    serve(service, importlib.import_module(app_module).create_app)
