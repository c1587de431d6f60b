"""The router: the single lifecycle authority of Codeswarm."""
