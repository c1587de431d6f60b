"""Debian's Chromium for the browser tests: found at /usr/bin/chromium, or installed with apt-get
(the suite runs as root on Debian; nothing is downloaded by Playwright itself)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
PACKAGES = ("chromium",)
APT_TIMEOUT_S = 900
MISSING_LISTS = ("Unable to locate package", "has no installation candidate", "Failed to fetch", "404  Not Found")


class ChromiumUnavailable(RuntimeError):
    pass


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args], env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
    )


def ensure_chromium() -> Path:
    """The path of Debian's Chromium, installing the package first when it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        raise ChromiumUnavailable(f"{CHROMIUM} is missing and there is no apt-get to install it")
    if os.geteuid() != 0:
        raise ChromiumUnavailable(f"{CHROMIUM} is missing; install it as root: apt-get install chromium")
    install = ("install", "-y", "--no-install-recommends", *PACKAGES)
    result = _apt(*install)
    if result.returncode != 0 and any(marker in result.stdout + result.stderr for marker in MISSING_LISTS):
        _apt("update")  # package lists missing or stale
        result = _apt(*install)
    if result.returncode != 0 or not CHROMIUM.exists():
        raise ChromiumUnavailable(f"apt-get install chromium failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return CHROMIUM
