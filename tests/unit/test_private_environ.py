"""hide_environment: a process that starts with secrets in its environment re-executes itself so that
/proc/<pid>/environ shows only harmless variables, while os.environ still holds every one of them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.support.router_process import ROOT

PROBE = """
import json, os
from services.private_environ import hide_environment
print("started", flush=True)  # twice when the process re-executed itself
hide_environment()
shown = dict(
    line.split("=", 1) for line in open("/proc/self/environ").read().split("\\0") if line
)
print(json.dumps({"environ": dict(os.environ), "shown": shown, "fds": os.listdir("/proc/self/fd")}))
"""


def run_probe(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    *starts, last = done.stdout.splitlines()
    answer: dict[str, Any] = json.loads(last)
    answer["starts"] = len(starts)
    return answer


def test_secrets_stay_in_the_process_but_leave_its_proc_environ() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "CODESWARM_API_TOKEN": "tok-secret", "SITE_KEY": "k=v secret"}
    answer = run_probe(env)
    environ, shown = answer["environ"], answer["shown"]
    assert environ["CODESWARM_API_TOKEN"] == "tok-secret" and environ["SITE_KEY"] == "k=v secret"
    assert "CODESWARM_ENVIRON_FD" not in environ  # the hand-over is gone, and so is its descriptor
    assert shown["PATH"] == "/usr/bin:/bin" and shown["HOME"] == "/tmp"
    assert "CODESWARM_API_TOKEN" not in shown and "SITE_KEY" not in shown
    assert not {"tok-secret", "k=v secret"} & set(shown.values())
    assert sorted(answer["fds"]) == ["0", "1", "2", "3"]  # 3: the listing's own
    assert answer["starts"] == 2


def test_nothing_to_hide_means_no_re_execution() -> None:
    answer = run_probe({"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"})
    assert answer["starts"] == 1
    assert answer["shown"] == {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
