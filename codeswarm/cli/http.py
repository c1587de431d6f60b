"""A small JSON client of the router and the mirror, with one-line errors.

Every failure becomes a ``CliError`` whose message is what the user sees: the server's ``detail`` for an
HTTP error (FastAPI's validation lists flattened to ``field: message``), or what could not be reached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

DEFAULT_TIMEOUT_S = 10.0


class CliError(Exception):
    """A failure to report on one line (exit code 1); ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def one_line(text: str) -> str:
    return " ".join(text.split())


def _location(loc: Any) -> str:
    if not isinstance(loc, list | tuple):
        return str(loc)
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def format_detail(detail: Any) -> str:
    """The server's ``detail``: a string, or FastAPI's ``[{loc, msg, type}, ...]``, or anything JSON."""
    if isinstance(detail, str):
        return one_line(detail)
    if isinstance(detail, list) and detail and all(isinstance(e, dict) and "msg" in e for e in detail):
        rendered = []
        for error in detail:
            where = _location(error.get("loc", ""))
            message = one_line(str(error["msg"]))
            rendered.append(f"{where}: {message}" if where else message)
        return "; ".join(rendered)
    return one_line(json.dumps(detail, ensure_ascii=False))


def http_error_message(response: httpx.Response) -> str:
    """``<detail> (HTTP <status>)`` from an error response, whatever its body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        text = format_detail(body["detail"])
    else:
        text = one_line(response.text)[:300] or response.reason_phrase
    return f"{text} (HTTP {response.status_code} from {response.request.method} {response.request.url.path})"


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


class ApiClient:
    """JSON over HTTP to one service (the router or the mirror)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        service: str = "router",
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Accept": "application/json", **auth_headers(token)},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: int = 0,
    ) -> Any:
        """Send one request; return the decoded JSON body.  ``retries`` repeats it after a transport
        failure (only for requests that are safe to repeat: reads, or writes with an Idempotency-Key)."""
        attempt = 0
        while True:
            try:
                response = self._client.request(method, path, json=json_body, headers=headers)
                break
            except httpx.TransportError as exc:
                if attempt < retries:
                    attempt += 1
                    continue
                raise CliError(self.unreachable(exc)) from None
        if response.is_error:
            raise CliError(http_error_message(response), response.status_code)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"the {self.service} at {self.base_url} answered {method} {path} with non-JSON content"
            ) from None

    def get(self, path: str) -> Any:
        return self.request("GET", path, retries=1)

    def post(self, path: str, body: Any, headers: Mapping[str, str] | None = None, retries: int = 0) -> Any:
        return self.request("POST", path, json_body=body, headers=headers, retries=retries)

    def unreachable(self, exc: Exception) -> str:
        reason = one_line(str(exc)) or type(exc).__name__
        hint = " (is `codeswarm up` running?)" if isinstance(exc, httpx.ConnectError) else ""
        return f"cannot reach the {self.service} at {self.base_url}: {reason}{hint}"
