"""The event bus (see services/bus/base.py for the contract); ``make_bus`` picks one from settings."""

from services.bus.base import START_ID, BusEntry, EventBus, encode_envelope, parse_entry_id
from services.bus.factory import make_bus
from services.bus.memory_bus import MemoryEventBus
from services.bus.redis_bus import RedisEventBus

__all__ = [
    "START_ID",
    "BusEntry",
    "EventBus",
    "MemoryEventBus",
    "RedisEventBus",
    "encode_envelope",
    "make_bus",
    "parse_entry_id",
]
