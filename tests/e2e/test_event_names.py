"""The page listens for exactly the protocol's events: a name added to (or dropped from) EventName
without the page following fails here instead of vanishing silently in the browser."""

from __future__ import annotations

import re
from pathlib import Path

from services.protocol import EventName

EVENT_NAMES_JS = Path(__file__).resolve().parents[2] / "web" / "static" / "js" / "event_names.js"


def listened_names() -> list[str]:
    source = EVENT_NAMES_JS.read_text()
    arrays = re.findall(r"export const \w+_EVENTS = \[(.*?)\];", source, flags=re.S)
    return [name for body in arrays for name in re.findall(r'"([a-z_]+)"', body)]


def test_the_page_listens_for_every_protocol_event() -> None:
    names = listened_names()
    assert len(names) == len(set(names)), "an event is listed twice"
    assert set(names) == {str(name) for name in EventName}
