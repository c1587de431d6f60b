#!/usr/bin/env bash
# Installs the pinned @anthropic-ai/claude-code from npm into .tools/claude (project-local), installing
# Debian's nodejs and npm first when they are missing.  The router runs the native ELF `claude` of the
# platform package (@anthropic-ai/claude-code-linux-x64), so nodes need no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: install_claude.sh VERSION}"
prefix=.tools/claude
stamp="$prefix/.installed-$version"
binary="$prefix/node_modules/@anthropic-ai/claude-code-linux-x64/claude"
if [[ -f "$stamp" && -x "$binary" ]]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "install_claude: npm is missing; install Node.js and npm (e.g. apt-get install nodejs npm)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends nodejs npm >/dev/null || {
        apt-get update >/dev/null && apt-get install -y --no-install-recommends nodejs npm >/dev/null
    }
fi
rm -rf "$prefix"
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "@anthropic-ai/claude-code@$version" >/dev/null
DISABLE_AUTOUPDATER=1 "$binary" --version >/dev/null
touch "$stamp"
echo "claude $version installed: $binary"
