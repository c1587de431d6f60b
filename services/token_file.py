"""Which API token the services demand: auth is on unless the loud setting turns it off.

``CODESWARM_API_TOKEN`` wins when set.  Otherwise the token lives in ``$CODESWARM_HOME/api-token``
(0600): the first start writes a random one there, later starts (and the CLI) read it.  The only way to
run without auth is ``CODESWARM_INSECURE_NO_AUTH=1``, which services/exposure.py allows on loopback only.
Tokens shorter than ``MIN_TOKEN_CHARS`` are refused, wherever they come from.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from services.settings import Settings

TOKEN_FILE_NAME = "api-token"
MIN_TOKEN_CHARS = 32
TOKEN_BYTES = 32  # token_urlsafe(32): 43 characters, 256 bits
MAX_TOKEN_FILE_BYTES = 4096


class AuthSetupError(Exception):
    """The auth settings cannot be used; the message says what to change."""


def token_path(settings: Settings) -> Path:
    return settings.home / TOKEN_FILE_NAME


def _checked(token: str, where: str) -> str:
    if len(token) < MIN_TOKEN_CHARS:
        raise AuthSetupError(
            f"the API token in {where} has {len(token)} characters; at least {MIN_TOKEN_CHARS} are required "
            "(make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


def read_token_file(path: Path) -> str | None:
    """The token stored at ``path``, or None when there is no such file.  A file other users could
    read, or one that holds no usable token, is an AuthSetupError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuthSetupError(f"cannot read the API token file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AuthSetupError(
                f"the API token file {path} is readable by other users (mode {stat.filemode(mode)}): "
                f"run `chmod 600 {path}`, or delete it and restart to get a new token"
            )
        text = handle.read(MAX_TOKEN_FILE_BYTES).decode("utf-8", errors="replace").strip()
    return _checked(text, str(path))


def _create_token_file(path: Path) -> str:
    """Write a new random token to ``path`` (0600) unless another process just did; the token stored."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        with contextlib.suppress(FileExistsError):  # another first start won: use its token
            os.link(draft, path)  # atomic: a concurrent start finds the whole file or none
    finally:
        draft.unlink()
    stored = read_token_file(path)
    if stored is None:
        raise AuthSetupError(f"the API token file {path} vanished while it was being written")
    return stored


def configured_token(settings: Settings) -> str | None:
    """The token clients must send (None only with the insecure setting), creating the token file on
    the first start; AuthSetupError when the settings contradict each other or the token is too short."""
    if settings.insecure_no_auth:
        if settings.api_token:
            raise AuthSetupError("CODESWARM_INSECURE_NO_AUTH and CODESWARM_API_TOKEN are both set: unset one of them")
        return None
    if settings.api_token:
        return _checked(settings.api_token, "CODESWARM_API_TOKEN")
    path = token_path(settings)
    return read_token_file(path) or _create_token_file(path)


def with_token(settings: Settings) -> Settings:
    """``settings`` with ``api_token`` set to the token every service of this start demands."""
    token = configured_token(settings)
    return settings if token is None else settings.model_copy(update={"api_token": token})
