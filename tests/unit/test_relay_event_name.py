"""The relay counts published events by name without parsing each envelope again."""

from __future__ import annotations

import orjson

from router.relay import event_name
from services.protocol.events import make_envelope


def test_the_name_is_read_off_an_envelope_as_the_router_encodes_it() -> None:
    data = {"swarm_id": "sw-1", "nested": {"event": "not this one"}, "text": '"event":"nor this"'}
    for name in ("swarm_status", "inject_delivered", "node_status"):
        assert event_name(orjson.dumps(make_envelope(name, data)).decode()) == name


def test_an_envelope_in_another_key_order_is_parsed() -> None:
    envelope = orjson.dumps({"data": {"note": '"event":"decoy"'}, "event": "swarm_removed"}).decode()
    assert event_name(envelope) == "swarm_removed"
