"""Browser sessions: a random id in an HttpOnly cookie stands for "this browser showed the token".

The ids live in the memory of the process that issued them (the mirror): a restart forgets every
session, and the page then opens a new one with the token it holds.  A session ends when its owner
logs out, when it is ``ttl_s`` old, or when ``max_sessions`` newer ones push it out.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict

from starlette.requests import HTTPConnection

from services.settings import Settings

SESSION_COOKIE = "codeswarm_session"
SESSION_ID_BYTES = 32


class SessionStore:
    """Session ids and their expiry times, oldest first; bounded by count."""

    def __init__(self, ttl_s: float, max_sessions: int) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._expiry: OrderedDict[str, float] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionStore:
        return cls(settings.session_ttl_s, settings.max_sessions)

    def open(self) -> str:
        self._drop_expired()
        while len(self._expiry) >= self.max_sessions:
            self._expiry.popitem(last=False)
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        self._expiry[session_id] = time.monotonic() + self.ttl_s
        return session_id

    def is_valid(self, session_id: str) -> bool:
        self._drop_expired()
        return session_id in self._expiry  # a hash lookup of a 256-bit random id: nothing to learn by timing

    def close(self, session_id: str) -> None:
        self._expiry.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._expiry)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        while self._expiry:
            oldest, expires = next(iter(self._expiry.items()))
            if expires > now:
                return
            del self._expiry[oldest]


def is_https(connection: HTTPConnection, settings: Settings) -> bool:
    """Whether the browser reached us over https: the connection's own scheme, or ``X-Forwarded-Proto``
    when (and only when) the peer is a configured trusted proxy (CODESWARM_TRUSTED_PROXIES)."""
    if connection.url.scheme == "https":
        return True
    peer = connection.client.host if connection.client else ""
    if peer and peer in settings.trusted_proxy_addresses:
        forwarded = connection.headers.get("x-forwarded-proto", "")
        return forwarded.split(",")[0].strip().lower() == "https"
    return False
