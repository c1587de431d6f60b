"""Agent runtimes the node program can drive, by name."""

from __future__ import annotations

from services.node.runtimes.base import Runtime
from services.node.runtimes.claude import ClaudeRuntime
from services.node.runtimes.codex import CodexRuntime
from services.node.runtimes.mock import MockRuntime
from services.node.runtimes.openai import OpenAIRuntime
from services.node.runtimes.shell import ShellRuntime

RUNTIMES: dict[str, type[Runtime]] = {
    runtime.name: runtime for runtime in (MockRuntime, ShellRuntime, CodexRuntime, OpenAIRuntime, ClaudeRuntime)
}

__all__ = ["RUNTIMES", "Runtime"]
