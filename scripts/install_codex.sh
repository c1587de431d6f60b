#!/usr/bin/env bash
# Installs the pinned @openai/codex from npm into .tools/codex (project-local), installing Debian's
# nodejs and npm first when they are missing.  The router runs the native binary inside the package
# (vendor/x86_64-unknown-linux-musl/bin/codex), so nodes need no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: install_codex.sh VERSION}"
prefix=.tools/codex
stamp="$prefix/.installed-$version"
binary="$prefix/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
if [[ -f "$stamp" && -x "$binary" ]]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "install_codex: npm is missing; install Node.js and npm (e.g. apt-get install nodejs npm)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends nodejs npm >/dev/null || {
        apt-get update >/dev/null && apt-get install -y --no-install-recommends nodejs npm >/dev/null
    }
fi
rm -rf "$prefix"
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "@openai/codex@$version" >/dev/null
"$binary" --version >/dev/null
touch "$stamp"
echo "codex $version installed: $binary"
