"""Fetch the browser libraries the web UI uses into ``web/static/vendor`` (committed, so the UI needs no
network and no build step at run time).

Each package is a pinned release fetched with ``npm pack`` and checked against the integrity hash
recorded here before a file is taken from it; its licence travels with it.  Run ``make web-vendor``
(``python -m web.vendor``) after changing a pin.  ``tests/e2e/test_vendor.py`` checks that the committed
files are what the pins say.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
LOCK_FILE = VENDOR_DIR / "vendor.lock.json"


@dataclass(frozen=True)
class Pin:
    spec: str  # name@version
    integrity: str  # npm's sha512 of the tarball
    files: dict[str, str]  # path inside the package → file name under vendor/


PINS = (
    Pin(
        "marked@15.0.12",
        "sha512-8dD6FusOQSrpv9Z1rdNMdlSgQOIP880DHqnohobOmYLElGEqAL/JvxvuxZO16r4HtjTlfPRDC1hbvxC9dPN2nA==",
        {"package/lib/marked.esm.js": "marked.esm.js", "package/LICENSE.md": "marked.LICENSE.md"},
    ),
    Pin(
        "dompurify@3.2.7",
        "sha512-WhL/YuveyGXJaerVlMYGWhvQswa7myDG17P7Vu65EWC05o8vfeNbvNf4d/BOvH99+ZW+LlQsc1GDKMa1vNK6dw==",
        {"package/dist/purify.es.mjs": "purify.es.js", "package/LICENSE": "dompurify.LICENSE"},
    ),
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tarball_integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch(pin: Pin, workdir: Path) -> Path:
    answer = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(workdir), pin.spec],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    (packed,) = json.loads(answer.stdout)
    tarball = workdir / packed["filename"]
    if tarball_integrity(tarball) != pin.integrity:
        sys.exit(f"{pin.spec}: the tarball's sha512 is not the pinned one; refusing it")
    return tarball


def main() -> None:
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    lock: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for pin in PINS:
            with tarfile.open(fetch(pin, Path(scratch))) as archive:
                for member, name in pin.files.items():
                    source = archive.extractfile(member)
                    if source is None:
                        sys.exit(f"{pin.spec}: {member} is not a file")
                    with source, (VENDOR_DIR / name).open("wb") as target:
                        shutil.copyfileobj(source, target)
                    lock[name] = {"package": pin.spec, "path": member, "sha256": sha256(VENDOR_DIR / name)}
    LOCK_FILE.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    print(f"vendored {len(lock)} files into {VENDOR_DIR}")


if __name__ == "__main__":
    main()
