"""The shell runtime: each injection's content is one shell command, run in the workspace."""

from __future__ import annotations

from services.node.messages import Injection
from services.node.runtimes.base import ScriptedRuntime
from services.node.runtimes.turn import Turn


class ShellRuntime(ScriptedRuntime):
    name = "shell"

    def play(self, turn: Turn, injection: Injection) -> None:
        turn.user_message(injection.content)
        turn.command(injection.content, self.workspace)
