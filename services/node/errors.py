"""Errors the node program reports in its `exit` record."""

from __future__ import annotations


class ConfigError(ValueError):
    """The node was started with a configuration it cannot use (exit code 2); the message says why."""
