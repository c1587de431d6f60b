"""The one logging set-up of every service (deployment and embedded mode alike).

Every record goes to standard error through one handler, uvicorn's included (the services run uvicorn
with ``log_config=None``, so its loggers propagate here).  A record carries time (UTC), level, logger and
the ids of what it concerns where they apply: ``request_id`` (the HTTP request: taken from a valid
``X-Request-ID`` or minted, and echoed in the response), ``swarm_id`` and ``job_id``.  They live in
context variables, so work a request starts (an asyncio task copies the context) keeps them.

``CODESWARM_LOG_FORMAT=text`` (default) writes one readable line per record; ``json`` one JSON object
per line for log shippers.  A secret is never written: the API token and the values of secret-looking
environment variables (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``) are replaced by ``***``
wherever they appear, and so is whatever follows ``Bearer`` or a ``token=`` / ``key=`` style assignment.
A message is cut at ``MAX_MESSAGE_CHARS``.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.settings import Settings

MAX_MESSAGE_CHARS = 8192
HIDDEN = "***"
REQUEST_ID_HEADER = "x-request-id"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
swarm_id: ContextVar[str | None] = ContextVar("swarm_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)
CONTEXT: tuple[tuple[str, ContextVar[str | None]], ...] = (
    ("request_id", request_id),
    ("swarm_id", swarm_id),
    ("job_id", job_id),
)

_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # a request id from a client, or a swarm id in a path
_SWARM_PATH = re.compile(r"/v1/swarms/([A-Za-z0-9_-]{1,64})(?:/|$)")
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_MIN_SECRET_CHARS = 8  # shorter values are not worth hiding (and would hide common words)
_SECRET_SHAPES = re.compile(
    r"(?P<lead>\bBearer\s+|\b(?:api[_-]?key|token|secret|password)\b\s*[=:]\s*[\"']?)(?P<value>[^\s\"'&,;]+)",
    re.IGNORECASE,
)


@contextmanager
def log_context(*, swarm: str | None = None, job: str | None = None) -> Iterator[None]:
    """Name a swarm (and its job) on every record logged inside the block."""
    tokens = [(var, var.set(value)) for var, value in ((swarm_id, swarm), (job_id, job)) if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def name_in_logs(*, swarm: str | None = None, job: str | None = None) -> None:
    """Name a swarm (and its job) on every later record of the current task (its own context copy)."""
    if swarm is not None:
        swarm_id.set(swarm)
    if job is not None:
        job_id.set(job)


class Redactor:
    """Replaces every known secret, and every secret-shaped assignment, in a text."""

    def __init__(self, known: set[str]) -> None:
        self.known = sorted((s for s in known if len(s) >= _MIN_SECRET_CHARS), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.known:
            if secret in text:
                text = text.replace(secret, HIDDEN)
        return _SECRET_SHAPES.sub(lambda m: m.group("lead") + HIDDEN, text)


def known_secrets(settings: Settings) -> set[str]:
    found = {value for name, value in os.environ.items() if _SECRET_NAME.search(name) and value}
    if settings.api_token:
        found.add(settings.api_token)
    return found


class ContextFilter(logging.Filter):
    """Puts the context's ids on each record (an id passed in ``extra`` wins) and hides secrets."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in CONTEXT:
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: log both, as they are
            message = f"{record.msg!r} {record.args!r}"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if len(message) > MAX_MESSAGE_CHARS:
            message = f"{message[:MAX_MESSAGE_CHARS]}… ({len(message) - MAX_MESSAGE_CHARS} characters cut)"
        record.msg, record.args = self.redact(message), None
        return True


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """``2026-12-02T15:26:06.123Z INFO router.authority [request_id=… swarm_id=…] message``"""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{name}={getattr(record, name)}" for name, _ in CONTEXT if getattr(record, name, None))
        line = f"{_utc(record)} {record.levelname} {record.name}{f' [{ids}]' if ids else ''} {record.getMessage()}"
        return f"{line}\n{record.exc_text}" if record.exc_text else line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the ids that apply, exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, _ in CONTEXT:
            value = getattr(record, name, None)
            if value:
                document[name] = value
        if record.exc_text:
            document["exception"] = record.exc_text
        return orjson.dumps(document).decode()


class _OurHandler(logging.StreamHandler):
    """The handler configure_logging installs (and replaces when called again)."""


def configure_logging(level: str | None = None, settings: Settings | None = None) -> None:
    """Send every logger's records to standard error, in the configured format, with ids and without
    secrets.  ``level`` overrides ``CODESWARM_LOG_LEVEL``.  Calling it again replaces the set-up."""
    settings = settings or Settings()
    handler = _OurHandler(sys.stderr)
    handler.addFilter(ContextFilter(Redactor(known_secrets(settings))))
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or settings.log_level).upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # through the one handler
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


class RequestIdMiddleware:
    """Gives each HTTP request an id (a valid ``X-Request-ID`` from the client, else a new one), echoes
    it in the response, and names the request's swarm (from a ``/v1/swarms/{swarm_id}`` path) in the
    log context of everything the request does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if _ACCEPTED_ID.fullmatch(given) else f"req-{secrets.token_hex(8)}"
        in_path = _SWARM_PATH.match(scope.get("path", ""))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        token = request_id.set(rid)
        try:
            with log_context(swarm=in_path.group(1) if in_path else None):
                await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
