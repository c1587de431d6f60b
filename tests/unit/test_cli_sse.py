"""The SSE line parser of `codeswarm watch`."""

from __future__ import annotations

from codeswarm.cli.sse import SseEvent, SseParser


def test_an_event_ends_at_the_blank_line_with_its_id_name_and_data() -> None:
    parser = SseParser()
    assert parser.feed("id: 1732464000000-0") is None
    assert parser.feed("event: assistant_delta") is None
    assert parser.feed('data: {"a": 1}') is None
    assert parser.feed("") == SseEvent(event="assistant_delta", data='{"a": 1}', id="1732464000000-0")
    assert parser.last_event_id == "1732464000000-0"


def test_data_lines_join_with_newlines_and_one_leading_space_is_dropped() -> None:
    events = SseParser().feed_text("data:first\ndata:  second\ndata\n\n")
    assert events == [SseEvent(event="message", data="first\n second\n", id=None)]


def test_comments_and_unknown_fields_are_ignored() -> None:
    events = SseParser().feed_text(": keep-alive\n\nfoo: bar\nevent: x\n: in the middle\ndata: y\n\n")
    assert events == [SseEvent(event="x", data="y", id=None)]


def test_any_line_ending_is_accepted() -> None:
    events = SseParser().feed_text("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r")
    assert [(e.event, e.data) for e in events] == [("a", "1"), ("b", "2")]


def test_an_event_without_data_is_not_dispatched_but_its_id_counts() -> None:
    parser = SseParser()
    assert parser.feed_lines(["id: 5-0", "event: ping", ""]) == []
    assert parser.last_event_id == "5-0"


def test_the_resume_point_moves_only_when_an_event_is_complete() -> None:
    parser = SseParser("1-0")
    parser.feed_lines(["id: 2-0", "event: usage", "data: {}"])  # the connection drops here
    assert parser.last_event_id == "1-0", "a half-received event must be received again after a reconnect"
    parser.reset()
    assert parser.feed_lines(["data: {}", ""]) == [SseEvent(event="message", data="{}", id=None)]
    assert parser.last_event_id == "1-0"


def test_an_event_without_id_keeps_the_last_resume_point() -> None:
    parser = SseParser()
    events = parser.feed_lines(["id: 7-1", "data: a", "", "event: swarm_status", "data: b", ""])
    assert [e.id for e in events] == ["7-1", None]
    assert parser.last_event_id == "7-1"


def test_an_empty_id_clears_the_resume_point() -> None:
    parser = SseParser("3-0")
    parser.feed_lines(["id:", "data: x", ""])
    assert parser.last_event_id is None


def test_retry_sets_the_reconnection_delay_only_when_numeric() -> None:
    parser = SseParser()
    parser.feed_lines(["retry: 1500", "retry: soon"])
    assert parser.retry_ms == 1500


def test_ids_with_nul_are_ignored() -> None:
    parser = SseParser()
    parser.feed_lines(["id: a\0b", "data: x", ""])
    assert parser.last_event_id is None


def test_a_stream_cut_anywhere_gives_the_same_events() -> None:
    text = "id: 1-0\r\nevent: a\r\ndata: x\r\n\r\n: keep-alive\n\nevent: b\rdata: yy\r\r"
    whole = SseParser().feed_text(text)
    for size in (1, 2, 3, 7):
        parser = SseParser()
        events = [event for at in range(0, len(text), size) for event in parser.feed_text(text[at : at + size])]
        assert events == whole, f"cut every {size} characters"
    assert [(e.event, e.data, e.id) for e in whole] == [("a", "x", "1-0"), ("b", "yy", None)]


def test_keep_comments_returns_keep_alives_as_events_without_data() -> None:
    events = SseParser(keep_comments=True).feed_text(": keep-alive\n\nevent: x\n: note\ndata: y\n\n")
    assert events == [
        SseEvent(event="message", data="", id=None, comments=("keep-alive",)),
        SseEvent(event="x", data="y", id=None, comments=("note",)),
    ]
