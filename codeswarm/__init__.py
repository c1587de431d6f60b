"""The `codeswarm` command line and the embedded mode.

This package is the one place allowed to import router, mirror and web together: `codeswarm up` runs
them in one process.  The rest of the CLI is an HTTP client (stdlib and httpx) of the public contract.
"""
