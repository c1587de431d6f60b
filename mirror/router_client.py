"""HTTP to the router: its swarm list (for reconciling) and the commands the mirror forwards.

Failures become ``RouterUnavailable`` with a status and a message a user can act on:

- 503 — the router could not be reached; the request was never sent, so nothing happened.
- 504 — the request was sent but no answer came in time; the command may or may not have been applied
  (retry a launch with the same ``Idempotency-Key``; terminate is idempotent).
- 502 — the router answered something that is not HTTP or broke the connection mid-answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class RouterUnavailable(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class RouterClient:
    def __init__(
        self,
        base_url: str,
        token: str = "",
        *,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        request = self._client.build_request(
            method,
            path,
            json=json,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)) if timeout_s else httpx.USE_CLIENT_DEFAULT,
        )
        return await self._send(request, stream=False)

    async def open_stream(self, method: str, path: str) -> httpx.Response:
        """A response whose body is read as it arrives; the caller must ``aclose()`` it."""
        return await self._send(self._client.build_request(method, path), stream=True)

    async def list_swarms(self, timeout_s: float | None = None) -> list[dict[str, Any]]:
        response = await self.request("GET", "/v1/swarms", timeout_s=timeout_s)
        if response.status_code != 200:
            raise RouterUnavailable(
                502, f"router answered {response.status_code} to GET /v1/swarms: {response.text[:300]}"
            )
        try:
            swarms = response.json()["swarms"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RouterUnavailable(502, f"router's GET /v1/swarms answer is not a swarm list: {exc}") from exc
        if not isinstance(swarms, list) or not all(
            isinstance(s, dict) and isinstance(s.get("swarm_id"), str) for s in swarms
        ):
            raise RouterUnavailable(502, "router's GET /v1/swarms answer is not a list of swarms")
        return swarms

    async def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        where = f"{request.method} {self.base_url}{request.url.path}"
        try:
            return await self._client.send(request, stream=stream)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise RouterUnavailable(
                503,
                f"the router is unreachable ({where}: {exc or type(exc).__name__}); "
                "nothing was sent to it — try again once it is back",
            ) from exc
        except httpx.TimeoutException as exc:
            raise RouterUnavailable(
                504,
                f"the router did not answer {where} in time; the command may or may not have been applied "
                "(a launch can be retried safely with the same Idempotency-Key)",
            ) from exc
        except httpx.HTTPError as exc:
            raise RouterUnavailable(
                502, f"the router's answer to {where} broke off: {exc or type(exc).__name__}"
            ) from exc
