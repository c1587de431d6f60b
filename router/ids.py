"""Identifiers minted by the router."""

import secrets


def new_swarm_id() -> str:
    return f"sw-{secrets.token_hex(6)}"


def new_request_id() -> str:
    return f"rq-{secrets.token_hex(8)}"


def new_injection_id() -> str:
    return f"in-{secrets.token_hex(8)}"
