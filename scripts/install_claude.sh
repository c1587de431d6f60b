#!/usr/bin/env bash
# Installs the pinned @anthropic-ai/claude-code from npm into .tools/claude (project-local), installing
# Debian's nodejs and npm first when they are missing.  The router runs the native ELF `claude` of the
# platform package (@anthropic-ai/claude-code-linux-x64), so nodes need no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/npm_tools.sh
export DISABLE_AUTOUPDATER=1  # its --version check must not update it
install_pinned claude @anthropic-ai/claude-code "${1:?usage: install_claude.sh VERSION}" \
    node_modules/@anthropic-ai/claude-code-linux-x64/claude
