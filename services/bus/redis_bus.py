"""The event bus on Redis Streams.

Keys (all under the install's prefix): ``<prefix>events`` — one stream, each entry a single field ``d``
holding the envelope as JSON bytes; ``<prefix>cursors`` — a hash of the writers' cursor values;
``<prefix>sizes`` — the payload sizes of the retained entries, oldest first, and ``<prefix>bytes`` —
their total.  Redis bounds a stream only by its number of entries, so the bus keeps the sizes itself:
the stream holds at most ``maxlen`` entries and ``max_bytes`` of payloads (the newest entry always
stays); the oldest entries past either bound are trimmed (an exact ``XTRIM MAXLEN``, which also takes
any older entry the sizes do not know of).

A publish is one server-side script run in one round trip: every XADD, the trim and the HSET of the
cursors happen atomically, whatever the number of entries, so a reader never sees cursors that run
ahead of the entries they describe and a crashed writer never leaves half a publish behind.
(A script also packs far faster in redis-py than a MULTI/EXEC pipeline of single XADDs.)  Writers keep
their publishes bounded (a few thousand entries) because a script blocks Redis while it runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.bus.base import START_ID, BusEntry, EventBus, encode_envelope, parse_entry_id

FIELD = b"d"
# XREAD named in bytes: redis-py looks its reply callbacks up by the command's name as text, so this one
# comes back as the server sent it; its per-entry conversion to dicts was a tenth of a mirror's time.
RAW_XREAD = b"XREAD"
CONNECT_TIMEOUT_S = 5.0

# KEYS: stream, cursors hash, sizes list, bytes counter.  ARGV: maxlen, max_bytes, number of cursor
# pairs, the pairs, then the payloads.  Each step is one call per publish where it can be: the sizes are
# pushed in chunks, an excess of entries is popped at once, and only the byte bound pops one by one.
PUBLISH_SCRIPT = """
local maxlen, max_bytes, pairs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ids, sizes, added = {}, {}, 0
for i = 4 + 2 * pairs, #ARGV do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'd', ARGV[i])
  sizes[#sizes + 1] = #ARGV[i]
  added = added + #ARGV[i]
end
if #ids > 0 then
  for first = 1, #sizes, 1000 do
    redis.call('RPUSH', KEYS[3], unpack(sizes, first, math.min(first + 999, #sizes)))
  end
  local total = redis.call('INCRBY', KEYS[4], added)
  local count = redis.call('LLEN', KEYS[3])
  local kept = count
  if count > maxlen then
    for _, size in ipairs(redis.call('LPOP', KEYS[3], count - maxlen)) do
      total = total - tonumber(size)
    end
    kept = maxlen
  end
  while kept > 1 and total > max_bytes do
    total = total - tonumber(redis.call('LPOP', KEYS[3]))
    kept = kept - 1
  end
  if kept < count then
    redis.call('SET', KEYS[4], total)
    redis.call('XTRIM', KEYS[1], 'MAXLEN', kept)
  end
end
for i = 4, 3 + 2 * pairs, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return ids
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisEventBus(EventBus):
    def __init__(
        self,
        url: str,
        prefix: str = "codeswarm:",
        maxlen: int = 200_000,
        *,
        max_bytes: int = 128 << 20,
        client: Redis | None = None,
    ) -> None:
        """``client`` lets a caller share a connection pool; it must use ``decode_responses=False``.
        Without one the bus opens its own (from ``url``) and closes it in ``close``: connecting gives up
        after ``CONNECT_TIMEOUT_S``; reads have no socket timeout (``XREAD BLOCK 0`` waits forever)."""
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.stream_key = f"{prefix}events"
        self.cursors_key = f"{prefix}cursors"
        self.sizes_key = f"{prefix}sizes"
        self.bytes_key = f"{prefix}bytes"
        self.maxlen = maxlen
        self.max_bytes = max_bytes
        self._owns_client = client is None
        if client is None:
            client = Redis.from_url(
                url, decode_responses=False, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_keepalive=True
            )
        self.redis: Redis = client
        self._publish_script = self.redis.register_script(PUBLISH_SCRIPT)

    async def publish(
        self, envelopes: Sequence[Mapping[str, Any] | bytes], cursors: Mapping[str, str] | None = None
    ) -> list[str]:
        """Append envelopes (mappings are encoded with orjson; ``bytes`` are taken as already-encoded
        JSON and published as is) and store ``cursors`` atomically with them; return the entry ids.
        Publishing no envelopes but some cursors just stores the cursors."""
        payloads = [encode_envelope(envelope) for envelope in envelopes]
        if not payloads and not cursors:
            return []
        pairs = [part for name, value in (cursors or {}).items() for part in (name, value)]
        ids = await self._publish_script(
            keys=[self.stream_key, self.cursors_key, self.sizes_key, self.bytes_key],
            args=[self.maxlen, self.max_bytes, len(pairs) // 2, *pairs, *payloads],
        )
        return [_text(entry_id) for entry_id in ids]

    async def read_after(self, after_id: str, count: int = 1000, block_ms: int | None = None) -> list[BusEntry]:
        parse_entry_id(after_id)  # a ValueError here beats a server error later
        if count < 1:
            raise ValueError("count must be at least 1")
        if block_ms is not None and block_ms < 0:
            raise ValueError("block_ms must be >= 0 (0 = wait forever)")
        block = () if block_ms is None else ("BLOCK", block_ms)
        reply = await self.redis.execute_command(
            RAW_XREAD, "COUNT", count, *block, "STREAMS", self.stream_key, after_id
        )
        return [BusEntry(_text(entry_id), _payload(fields)) for entry_id, fields in _stream_entries(reply)]

    async def last_id(self) -> str:
        return _first_entry_id(await self.redis.xrevrange(self.stream_key, "+", "-", count=1)) or START_ID

    async def first_id(self) -> str | None:
        return _first_entry_id(await self.redis.xrange(self.stream_key, "-", "+", count=1))

    async def cursors(self) -> dict[str, str]:
        stored = await self.redis.hgetall(self.cursors_key)
        return {_text(name): _text(value) for name, value in stored.items()}

    async def forget_cursors(self, names: Sequence[str]) -> None:
        if names:
            await self.redis.hdel(self.cursors_key, *names)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        if self._owns_client:
            await self.redis.aclose()


def _first_entry_id(entries: Any) -> str | None:
    return _text(entries[0][0]) if entries else None


def _stream_entries(response: Any) -> list[tuple[bytes, Any]]:
    """The entries of the one stream in an XREAD reply in any shape redis-py gives: a list of
    ``[key, entries]`` (RESP2 and legacy RESP3), a map ``{key: entries}`` (unified responses) or
    ``{key: [entries]}`` (older RESP3 parsers); an empty or nil reply gives none."""
    if not response:
        return []
    streams = list(response.values()) if isinstance(response, dict) else [entries for _, entries in response]
    found: list[tuple[bytes, Any]] = []
    for entries in streams:
        first = entries[0] if entries else None
        nested = isinstance(first, list) and (not first or not isinstance(first[0], bytes | str))
        for entry_id, fields in [e for inner in entries for e in inner] if nested else entries:
            found.append((entry_id, fields))
    return found


def _payload(fields: list[bytes]) -> bytes:
    """The ``d`` value of an entry's flat ``[field, value, ...]`` list, as the server sends it."""
    if fields[0] == FIELD:
        return fields[1]
    return dict(zip(fields[::2], fields[1::2], strict=True))[FIELD]
