"""How the node program starts Claude Code headless: its command line and its environment.

The approval policy maps onto Claude Code's permission mode and tool rules:

- ``never``      → ``--permission-mode acceptEdits --allowedTools Bash``: commands and file edits run
                   without asking; anything else Claude would ask about is refused (there is nobody to ask;
                   ``bypassPermissions`` is not used because Claude Code refuses it when run as root).
- ``on-request`` → ``--permission-mode acceptEdits`` with ``--permission-prompt-tool stdio``: edits run,
                   a command off Claude's own read-only list is put to the user as an approval request.
- ``untrusted``  → ``--permission-mode default`` with ``--permission-prompt-tool stdio``: every edit and
                   every command off that list is put to the user.

The key goes into ANTHROPIC_API_KEY of the child's environment only, never onto its command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

APPROVAL_POLICIES = ("never", "on-request", "untrusted")
PERMISSION_MODES = {"never": "acceptEdits", "on-request": "acceptEdits", "untrusted": "default"}
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR")
QUIET_ENV = {
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}


def asks_the_user(params: Mapping[str, Any]) -> bool:
    """Whether Claude puts permission questions to the node (as `can_use_tool` control requests)."""
    return params["approval_policy"] != "never"


def command_line(params: Mapping[str, Any], system_prompt: str, session_id: str, resume: bool) -> list[str]:
    """`resume`: continue the session `session_id` (after a restart); else open it under that id."""
    argv = [
        str(params["binary"]),
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--include-partial-messages",
        "--verbose",
        "--permission-mode",
        PERMISSION_MODES[str(params["approval_policy"])],
    ]
    argv += ["--resume", session_id] if resume else ["--session-id", session_id]
    if params.get("model"):
        argv += ["--model", str(params["model"])]
    if asks_the_user(params):
        argv += ["--permission-prompt-tool", "stdio"]
    else:
        argv += ["--allowedTools", "Bash"]
    if system_prompt:
        argv += ["--append-system-prompt", system_prompt]
    return argv


def environment(params: Mapping[str, Any], home: str, secret: str | None) -> dict[str, str]:
    env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    env |= QUIET_ENV
    env["CLAUDE_CONFIG_DIR"] = home
    if params.get("base_url"):
        env["ANTHROPIC_BASE_URL"] = str(params["base_url"])
    if secret:
        env["ANTHROPIC_API_KEY"] = secret
    return env
