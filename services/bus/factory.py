"""Choose the event bus from settings: the in-process one (embedded mode) or Redis Streams."""

from __future__ import annotations

from services.bus.base import EventBus
from services.bus.memory_bus import MemoryEventBus
from services.bus.redis_bus import RedisEventBus
from services.settings import Settings


def make_bus(settings: Settings) -> EventBus:
    if settings.bus == "redis":
        return RedisEventBus(
            settings.redis_url, settings.redis_prefix, settings.stream_maxlen, max_bytes=settings.stream_max_bytes
        )
    return MemoryEventBus(settings.stream_maxlen, max_bytes=settings.stream_max_bytes)
