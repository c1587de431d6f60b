"""`codeswarm-node` / `python -m services.node` / `python3 codeswarm-node-<hash>.pyz`: run the node program."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from services.node.cli import parse_args
from services.node.priority import lower_priority
from services.node.private_files import keep_files_private
from services.node.program import NodeProgram


def main(argv: Sequence[str] | None = None) -> int:
    keep_files_private()
    options = parse_args(argv, os.environ)
    lower_priority(options.nice)
    return NodeProgram(options).run()


if __name__ == "__main__":
    sys.exit(main())
