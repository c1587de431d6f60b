"""The vendored browser libraries are exactly the pinned releases (web/vendor.py), licences included."""

from __future__ import annotations

import hashlib
import json

from web.vendor import LOCK_FILE, PINS, VENDOR_DIR


def test_vendored_files_are_the_pinned_releases() -> None:
    lock = json.loads(LOCK_FILE.read_text())
    expected = {name: (pin.spec, member) for pin in PINS for member, name in pin.files.items()}
    assert {name: (entry["package"], entry["path"]) for name, entry in lock.items()} == expected
    for name, entry in lock.items():
        assert hashlib.sha256((VENDOR_DIR / name).read_bytes()).hexdigest() == entry["sha256"], name
    assert any(name.endswith((".LICENSE", ".LICENSE.md")) for name in lock)
