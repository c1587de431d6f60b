"""`codeswarm`: launch, inject, watch and terminate swarms from a terminal; `up` runs the embedded mode."""

from codeswarm.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
