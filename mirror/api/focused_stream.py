"""``GET /v1/events/focused``: the event stream for a page that shows one swarm (and maybe one node).

Everything is sent as on ``/v1/events`` except the streamed fragments (reasoning, answer and command
output deltas): those only for the focused node.  Completed items, usage, approvals and lifecycle
events still come for every node of every swarm, so a page's matrix and swarm list stay exact while
256 nodes stream — it receives ten deltas a second from one node instead of thousands.  A page that
focuses another node reconnects here (resuming by id) and reads the text so far from
``GET /v1/swarms/{id}/live``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from mirror.api.deps import Core
from mirror.api.stream import LastEventIdHeader, event_stream_route, resume_after
from mirror.items import StreamItem
from mirror.stream import ClientStream
from mirror.subscriber import QueueLimit, Subscriber
from services.protocol import DELTA_EVENTS

router = APIRouter(tags=["stream"])


class FocusedSubscriber(Subscriber):
    __slots__ = ("focus_node", "focus_swarm")

    def __init__(self, *, focus_swarm: str, focus_node: int | None, limit: QueueLimit, seam: tuple[int, int]) -> None:
        super().__init__(swarm_id=None, node_id=None, limit=limit, seam=seam)
        self.focus_swarm = focus_swarm
        self.focus_node = focus_node

    @property
    def filtered(self) -> bool:
        return True

    def matches(self, item: StreamItem) -> bool:
        if item.event not in DELTA_EVENTS:
            return True
        return self.focus_node is not None and item.node_id == self.focus_node and item.swarm_id == self.focus_swarm


@event_stream_route(router, "/v1/events/focused", "streamFocusedEvents")
async def focused_events(
    core: Core,
    swarm_id: Annotated[str, Query(max_length=200, description="The swarm the page shows.")],
    node_id: Annotated[int | None, Query(ge=0, description="The node whose deltas the page shows.")] = None,
    last_event_id: Annotated[str | None, Query(max_length=45, description="Resume after this id.")] = None,
    last_event_id_header: LastEventIdHeader = None,
) -> Response:
    """Like ``GET /v1/events`` (same ids, replay and resume), with deltas only for ``node_id`` of
    ``swarm_id`` (none when ``node_id`` is absent)."""
    after = resume_after(last_event_id_header, last_event_id)
    hub = core.hub
    subscriber = FocusedSubscriber(
        focus_swarm=swarm_id, focus_node=node_id, limit=core.options.queue_limit, seam=hub.model.position_key
    )
    hub.subscribers.add(subscriber)  # what Hub.subscribe does, with this subscriber's filter
    return ClientStream(hub, subscriber, after, core.options)
