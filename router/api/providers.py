"""The providers a launch can name, with their launch fields."""

from __future__ import annotations

from fastapi import APIRouter

from router.api.deps import ProvidersDep
from router.runtime_params import runtime_fields
from services.protocol.openapi import error_responses
from services.protocol.views import ProviderList, ProviderView

router = APIRouter(prefix="/v1/providers", tags=["providers"], responses=error_responses(401, 421))


@router.get("", response_model=ProviderList, operation_id="listProviders")
async def list_providers(providers: ProvidersDep) -> ProviderList:
    return ProviderList(
        providers=[
            ProviderView(
                id=p.config.id,
                label=p.config.label,
                backend=p.config.backend,
                max_nodes=p.config.max_nodes,
                runtimes=list(p.config.runtimes),
                defaults=p.config.defaults,
                launch_fields=list(p.config.launch_fields),
                runtime_fields=runtime_fields(p.config),
            )
            for p in providers.values()
        ]
    )
