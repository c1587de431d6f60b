"""The event catalogue names exactly the protocol's events, the browser and the CLI listen for the same
names, and what the router's translation makes of every recorded codex transcript fits the catalogue."""

from __future__ import annotations

import io

import pytest

from codeswarm.cli import render
from router.translate import translate_record
from services.protocol import EventName
from services.protocol.catalogue import ENVELOPES, EVENT_DATA, catalogue_schema
from services.protocol.events import make_envelope
from tests.contract.event_schema import problems
from tests.e2e.test_event_names import listened_names
from tests.support.fixtures import as_records, codex_out_messages, scenario_files

PROTOCOL_NAMES = {str(name) for name in EventName}
# The CLI leaves thread_status out on purpose (its module docstring says why: node_status says the same).
CLI_IGNORES = {"thread_status"}


def test_the_catalogue_has_one_envelope_per_protocol_event() -> None:
    assert {str(name) for name in EVENT_DATA} == PROTOCOL_NAMES
    schema = catalogue_schema()
    assert set(schema["x-events"]) == PROTOCOL_NAMES
    assert len(schema["oneOf"]) == len(ENVELOPES) == len(PROTOCOL_NAMES)
    assert set(schema["x-control-events"]) == {"reset", "error"}


def test_the_browser_listens_for_exactly_the_catalogue() -> None:
    assert set(listened_names()) == set(catalogue_schema()["x-events"])


def test_the_cli_renders_exactly_the_catalogue_less_what_it_ignores_on_purpose() -> None:
    handled = set(render.Renderer(io.StringIO(), live=False)._handlers)
    assert handled | CLI_IGNORES == set(catalogue_schema()["x-events"])
    assert not handled & CLI_IGNORES
    assert render.__doc__ is not None and all(name in render.__doc__ for name in CLI_IGNORES)


def test_an_event_that_breaks_its_schema_is_refused() -> None:
    good = make_envelope(EventName.NODE_STATUS, {"swarm_id": "s", "job_id": "j", "node_id": 0, "status": "idle"})
    good["data"]["last_heartbeat_at"] = None
    assert not problems(good)
    wrong_status = {**good, "data": {**good["data"], "status": "sleeping"}}
    no_swarm = {**good, "data": {k: v for k, v in good["data"].items() if k != "swarm_id"}}
    unknown_event = {**good, "event": "node_mood"}
    undeclared = {**good, "data": {**good["data"], "mood": "fine"}}
    for bad in (wrong_status, no_swarm, unknown_event, undeclared):
        assert problems(bad), bad


@pytest.mark.parametrize("scenario", scenario_files())
def test_every_event_translated_from_a_codex_transcript_fits_its_schema(scenario: str) -> None:
    for record in as_records(codex_out_messages(scenario)):
        for name, fields in translate_record(record):
            # the fields ingest adds to every runtime event (router/ingest.py), then the translation's
            data = {"swarm_id": "s", "job_id": "j", "node_id": 0, "injection_id": "in-1", "seq": record["seq"]}
            data |= fields | {"raw": record["payload"]}
            if name is EventName.USAGE:
                data |= {"model": None, "cost_usd": None}
            found = problems(make_envelope(name, data))
            assert not found, f"{scenario} {name}: {found}"
