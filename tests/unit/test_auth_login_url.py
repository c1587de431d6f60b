"""`codeswarm up` tells its owner the login URL once, and says loudly when auth is off."""

from __future__ import annotations

import io
from pathlib import Path

from codeswarm.embedded import Started, announce, login_url
from services.settings import Settings

TOKEN = "t" * 43


def announced(settings: Settings) -> str:
    out = io.StringIO()
    announce(Started(settings, urls={"router": "http://127.0.0.1:8765", "web": "http://127.0.0.1:8000"}), out)
    return out.getvalue()


def test_the_web_line_is_the_login_url(tmp_path: Path) -> None:
    text = announced(Settings(home=tmp_path, api_token=TOKEN, insecure_no_auth=False))
    assert f"  web     http://127.0.0.1:8000/#token={TOKEN}  ← open this in a browser\n" in text
    assert text.count(TOKEN) == 1
    assert str(tmp_path / "api-token") in text


def test_without_auth_the_announcement_says_so(tmp_path: Path) -> None:
    text = announced(Settings(home=tmp_path, api_token="", insecure_no_auth=True))
    assert "  web     http://127.0.0.1:8000  ← open this in a browser\n" in text
    assert "NONE: CODESWARM_INSECURE_NO_AUTH is set" in text
    assert login_url("http://127.0.0.1:8000", "") == "http://127.0.0.1:8000"
