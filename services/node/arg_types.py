"""Command-line helpers shared by the node program and the `codeswarm` CLI (here because the zipapp packs
only services/node).  Standard library only."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from inspect import signature
from typing import Any, TypeVar

Number = TypeVar("Number", int, float)
Options = TypeVar("Options")


def number_type(
    convert: Callable[[str], Number], accept: Callable[[Number], bool], not_a_number: str, refused: str
) -> Callable[[str], Number]:
    """An argparse type: `convert` the text, then keep the value only when `accept` holds.  The two
    messages are formats of `text` and `value`; argparse turns them into a usage error (exit 2)."""

    def parse(text: str) -> Number:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(not_a_number.format(text=text)) from None
        if not accept(value):
            raise argparse.ArgumentTypeError(refused.format(text=text, value=value))
        return value

    return parse


def options_from(args: argparse.Namespace, kind: Callable[..., Options], **given: Any) -> Options:
    """`kind(...)` with `given`, and every other parameter the parsed command line has by that name."""
    named = {
        name: getattr(args, name) for name in signature(kind).parameters if name not in given and hasattr(args, name)
    }
    return kind(**named, **given)
