"""A launch's runtime params, checked at the door by the node program's own rules.

The node's runtime params are the provider's settings of the runtime (`[runtimes.<name>]` and the
provider's `runtime_settings`), then the launch's own values.  What the provider sets (for codex: the
binary, the model endpoint, the name of the key's variable) a launch may not override.  The key itself
is read from the router's environment when a job is started and goes only into 0600 control files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import httpx

from router.providers.base import ProviderConfig
from services.node.errors import ConfigError
from services.node.runtimes import RUNTIMES
from services.node.runtimes.base import Param, check_runtime_params
from services.node.runtimes.chat_stream import api_root
from services.protocol.views import LaunchField


class RuntimeParamsError(ValueError):
    pass


def checked_runtime_params(
    runtime: str, config: ProviderConfig, given: Mapping[str, Any], check_files: bool
) -> dict[str, Any]:
    runtime_class = RUNTIMES[runtime]
    reserved = sorted(set(given) & set(runtime_class.provider_params))
    if reserved:
        raise RuntimeParamsError(
            f"{', '.join(reserved)} of runtime {runtime!r} come from the provider's settings "
            f"([runtimes.{runtime}] in the providers file), not from a launch"
        )
    merged = {**config.runtime_settings.get(runtime, {}), **given}
    try:
        values = check_runtime_params(runtime, runtime_class.params_accepted, merged)
    except ConfigError as exc:
        raise RuntimeParamsError(str(exc)) from exc
    key_name = values.get(runtime_class.key_param)
    if key_name and not os.environ.get(str(key_name)):
        raise RuntimeParamsError(
            f"runtime {runtime!r} sends the model key from ${key_name}, which is not set in the router's environment"
        )
    binary = values.get("binary")
    if check_files and binary and not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise RuntimeParamsError(
            f"the {runtime} binary {binary!r} does not exist or is not executable; install it with "
            f"`make {runtime}` or set binary under [runtimes.{runtime}] in the providers file"
        )
    return values


def model_key(runtime: str, params: Mapping[str, Any]) -> str | None:
    """The model endpoint's key, from the router's environment (never stored)."""
    runtime_class = RUNTIMES.get(runtime)
    key_name = params.get(runtime_class.key_param) if runtime_class else None
    return os.environ.get(str(key_name)) or None if key_name else None


async def check_model_served(runtime: str, values: Mapping[str, Any], timeout_s: float = 5.0) -> None:
    """For a runtime whose endpoint lists its models: the model must be one of them.  An endpoint the
    router cannot reach proves nothing (compute nodes may see it when the router does not)."""
    listing = RUNTIMES[runtime].model_listing
    if listing is None or not values.get("base_url"):
        return
    url = api_root(str(values["base_url"])) + listing
    key = model_key(runtime, values)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            answer = await client.get(url, headers=headers)
        served = [str(entry.get("id")) for entry in answer.json().get("data") or [] if isinstance(entry, dict)]
    except (httpx.HTTPError, ValueError, AttributeError):
        return
    if answer.status_code == 200 and served and values.get("model") not in served:
        raise RuntimeParamsError(
            f"model {values.get('model')!r} is not served at {url}; it serves: {', '.join(sorted(served))}"
        )


def _field(param: Param, default: Any) -> LaunchField:
    kind: Literal["string", "integer", "boolean", "choice"]
    if param.options:
        kind = "choice"
    elif isinstance(param.default, bool):
        kind = "boolean"
    elif isinstance(param.default, int):
        kind = "integer"
    else:
        kind = "string"
    return LaunchField(
        key=param.name,
        label=param.help,
        type=kind,
        default=default,
        required=default is None and param.check(None) is not None,
        options=list(param.options) if param.options else None,
    )


def runtime_fields(config: ProviderConfig) -> dict[str, list[LaunchField]]:
    """The runtime params a launch may give, per runtime of the provider, with the provider's defaults."""
    fields = {}
    for runtime in config.runtimes:
        runtime_class = RUNTIMES[runtime]
        settings = config.runtime_settings.get(runtime, {})
        fields[runtime] = [
            _field(param, settings.get(param.name, param.default))
            for param in runtime_class.params_accepted
            if param.name not in runtime_class.provider_params
        ]
    return fields
