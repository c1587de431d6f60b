#!/usr/bin/env bash
# Installs the pinned @openai/codex from npm into .tools/codex (project-local), installing Debian's
# nodejs and npm first when they are missing.  The router runs the native binary inside the package
# (vendor/x86_64-unknown-linux-musl/bin/codex), so nodes need no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/npm_tools.sh
install_pinned codex @openai/codex "${1:?usage: install_codex.sh VERSION}" \
    node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex
