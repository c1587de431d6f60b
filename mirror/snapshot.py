"""The mirror's snapshot file: the read model and request ledger, so a restarted mirror has something
to serve before the router answers (and its clients keep their swarms if the router is down).

The file names the stream it was taken from (a hash, never the Redis URL itself, which may carry a
password) and the last entry it reflects; on start the mirror replays the bus from there.  It is written
atomically (temporary file + rename).  A snapshot is only ever a starting point: the router's list wins
at the first reconcile.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import orjson

from mirror.ledger import RequestLedger
from mirror.readmodel import ReadModel
from services.bus.base import START_ID
from services.settings import Settings

log = logging.getLogger(__name__)

FORMAT = 1


def stream_identity(settings: Settings) -> str:
    source = f"{settings.bus}|{settings.redis_url}|{settings.redis_prefix}" if settings.bus == "redis" else "memory"
    return hashlib.sha256(source.encode()).hexdigest()[:16]


class SnapshotFile:
    def __init__(self, path: Path, identity: str) -> None:
        self.path = path
        self.identity = identity
        self.saved_version = -1

    def save(self, model: ReadModel, ledger: RequestLedger) -> None:
        if model.version == self.saved_version:
            return
        document = {
            "format": FORMAT,
            "stream": self.identity,
            **model.state(),
            "requests": ledger.dump(),
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_bytes(orjson.dumps(document))
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("could not write the mirror snapshot %s: %s", self.path, exc)
            return
        self.saved_version = model.version

    def load(self, model: ReadModel, ledger: RequestLedger) -> bool:
        """Fill model and ledger from the file; False when there is none or it does not fit."""
        try:
            document: Any = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return False
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("ignoring unreadable mirror snapshot %s: %s", self.path, exc)
            return False
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            log.warning("ignoring mirror snapshot %s: unknown format", self.path)
            return False
        if document.get("stream") != self.identity:
            log.info("ignoring mirror snapshot %s: it was taken from another event stream", self.path)
            return False
        try:
            model.load(str(document["last_event_id"]), list(document["swarms"]))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring malformed mirror snapshot %s: %s", self.path, exc)
            model.load(START_ID, [])
            return False
        ledger.load(document.get("requests") or [])
        self.saved_version = model.version
        return True
