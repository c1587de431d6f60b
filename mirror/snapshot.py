"""The mirror's snapshot file: the read model and request ledger, so a restarted mirror has something
to serve before the router answers (and its clients keep their swarms if the router is down).

The file names the stream it was taken from (a hash, never the Redis URL itself, which may carry a
password) and the last entry it reflects; on start the mirror replays the bus from there.  It is written
atomically (temporary file + rename).  A snapshot is only ever a starting point: the router's list wins
at the first reconcile.

The mirror's event loop fans events out to every client, so the snapshot keeps off it what it can:
the document is encoded on the loop in one call into orjson, which keeps it consistent with
``last_event_id`` (the model's dicts as they are; the ledger's records from JSON each keeps until it
changes), and the bytes are written, and the file read, in a worker thread.
"""

from __future__ import annotations

import asyncio
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
        self._saving = asyncio.Lock()  # one writer at a time: they share the temporary file

    async def save(self, model: ReadModel, ledger: RequestLedger) -> None:
        """Write the model and ledger as they are now, unless nothing changed since the last save."""
        async with self._saving:
            version = model.version
            if version == self.saved_version:
                return
            document = {"format": FORMAT, "stream": self.identity, **model.state(), "requests": ledger.stored()}
            encoded = orjson.dumps(document)
            try:
                await asyncio.to_thread(self._write, encoded)
            except OSError as exc:
                log.warning("could not write the mirror snapshot %s: %s", self.path, exc)
                return
            self.saved_version = version

    def _write(self, encoded: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(encoded)
        os.replace(temporary, self.path)

    async def load(self, model: ReadModel, ledger: RequestLedger) -> bool:
        """Fill model and ledger from the file; False when there is none or it does not fit."""
        try:
            document: Any = await asyncio.to_thread(self._read)
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

    def _read(self) -> Any:
        return orjson.loads(self.path.read_bytes())
