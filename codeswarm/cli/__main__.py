"""`python -m codeswarm.cli` is the `codeswarm` command."""

from codeswarm.cli import main

raise SystemExit(main())
