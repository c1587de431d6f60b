"""The mock runtime: deterministic, codex-shaped, no model.

Per injection: the user message, a short reasoning summary, every prompt line that starts with `$ `
run for real in the workspace (a line that starts with `$? ` asks for approval first, in codex's request
shape, and runs only when accepted), then the answer `echo: <prompt>` as exactly `tokens` deltas, usage
(cumulative `total`, per-turn `last`, derived from text lengths only), and the turn's completion.
`delay_ms` is the pause before each reasoning and answer delta (0 = as fast as possible).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

from services.node.messages import Injection
from services.node.runtimes import shapes
from services.node.runtimes.base import Param, ScriptedRuntime, integer, number
from services.node.runtimes.turn import Turn

COMMAND_PREFIX = "$ "
APPROVAL_PREFIX = "$? "
BASE_INPUT_TOKENS = 200  # the fixed "instructions" every turn sends
CHARS_PER_TOKEN = 4


def split_evenly(text: str, parts: int) -> list[str]:
    """Exactly `parts` chunks that concatenate to `text` (some are empty when text is shorter)."""
    return [text[len(text) * i // parts : len(text) * (i + 1) // parts] for i in range(parts)]


def prompt_commands(prompt: str) -> list[tuple[str, bool]]:
    """The prompt's command lines, each with whether it asks for approval first."""
    commands = []
    for line in prompt.splitlines():
        for prefix, ask in ((COMMAND_PREFIX, False), (APPROVAL_PREFIX, True)):
            if line.startswith(prefix):
                commands.append((line[len(prefix) :], ask))
    return commands


def reasoning_deltas(commands: int) -> list[str]:
    plan = f"I will run {commands} command{'s' if commands != 1 else ''} first, then " if commands else "I will "
    words = (plan + "echo the prompt back.").split(" ")
    return ["**Planning the reply**\n\n"] + [word + " " for word in words[:-1]] + [words[-1]]


def tokens_for(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


class MockRuntime(ScriptedRuntime):
    name = "mock"
    params_accepted: ClassVar[tuple[Param, ...]] = (
        Param("tokens", 8, integer(1, 1_000_000), "how many agentMessage deltas the answer is streamed as"),
        Param("delay_ms", 20, number(0, 60_000), "pause before each reasoning and answer delta, in ms"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.total = shapes.token_breakdown(0, 0, 0, 0)  # cumulative usage of the thread
        self.turns = 0
        self.request_ids = itertools.count()  # server → client request ids, from 0 as codex numbers them

    def play(self, turn: Turn, injection: Injection) -> None:
        prompt = injection.content
        pause_s = float(self.params["delay_ms"]) / 1000
        commands = prompt_commands(prompt)
        turn.user_message(prompt)
        summary = turn.reasoning(reasoning_deltas(len(commands)), pause_s)
        for command, ask in commands:
            item_id = None
            if ask:
                item_id = turn.ask_approval(command, self.workspace, self.approvals, next(self.request_ids))
                if item_id is None:
                    continue  # declined
            turn.command(command, self.workspace, item_id)
        answer = turn.agent_message(split_evenly(f"echo: {prompt}", int(self.params["tokens"])), pause_s)
        input_tokens = BASE_INPUT_TOKENS + tokens_for(self.system_prompt) + tokens_for(prompt)
        cached = BASE_INPUT_TOKENS if self.turns else 0
        reasoning_tokens = tokens_for(summary)
        last = shapes.token_breakdown(input_tokens, cached, tokens_for(answer) + reasoning_tokens, reasoning_tokens)
        self.total = shapes.add_breakdowns(self.total, last)
        self.turns += 1
        turn.usage(dict(self.total), last)
