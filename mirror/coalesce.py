"""Delta coalescing: consecutive deltas of one item on one node become one event before they go out.

Only deltas that are *adjacent in the client's own stream* are merged, so the merged event can take the
SSE id of the last entry it contains: a client that resumes from that id has received every fragment up
to it, and one that resumes from an earlier id gets the same entries again.  The text is the exact
concatenation, in order.  A run spans at most ``window_ms`` of stream time (entry-id milliseconds).

Coalescing never waits: it merges what is already queued for a client.  A client that keeps up gets
events one by one with no added latency; one that falls behind gets fewer, larger events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from mirror.items import StreamItem, encode_frame


def merged_envelope(run: Sequence[StreamItem]) -> dict[str, Any]:
    """The envelope of a run of deltas: the last one's, with the whole text.  The timestamp is the
    first fragment's (the age of the oldest text in it); ``raw`` (one fragment's runtime message) is
    dropped and ``coalesced`` says how many entries were merged.  Only the first and the last envelope
    are parsed (again): the fragments are on the items."""
    first, last = orjson.loads(run[0].payload), orjson.loads(run[-1].payload)
    data = dict(last["data"])
    data["delta"] = "".join(item.delta for item in run)
    data.pop("raw", None)
    data["coalesced"] = len(run)
    envelope = dict(last)
    envelope["data"] = data
    if "timestamp" in first:
        envelope["timestamp"] = first["timestamp"]
    return envelope


def render(items: Sequence[StreamItem], window_ms: float) -> bytes:
    """The SSE bytes of ``items`` in order, merging runs of deltas when ``window_ms`` > 0."""
    if window_ms <= 0:
        return b"".join(item.frame for item in items)
    frames: list[bytes] = []
    count = len(items)
    index = 0
    while index < count:
        item = items[index]
        merge_key = item.merge_key
        end = index + 1
        if merge_key is not None:
            start_ms = item.key[0]
            while end < count and items[end].merge_key == merge_key and items[end].key[0] - start_ms <= window_ms:
                end += 1
        if end - index == 1:
            frames.append(item.frame)
        else:
            run = items[index:end]
            last = run[-1]
            frames.append(encode_frame(last.event, orjson.dumps(merged_envelope(run)).decode(), last.id))
        index = end
    return b"".join(frames)
