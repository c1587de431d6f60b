#!/usr/bin/env bash
# Installs the pinned TypeScript client tools (openapi-typescript, typescript) from clients/package-lock.json
# into clients/node_modules, installing Debian's nodejs and npm first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../clients"
stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [[ -f "$stamp" && -x node_modules/.bin/openapi-typescript && -x node_modules/.bin/tsc ]]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "install_clients: npm is missing; install Node.js and npm (e.g. apt-get install nodejs npm)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends nodejs npm >/dev/null || {
        apt-get update >/dev/null && apt-get install -y --no-install-recommends nodejs npm >/dev/null
    }
fi
npm ci --no-audit --no-fund --loglevel=error >/dev/null
node_modules/.bin/tsc --version >/dev/null
touch "$stamp"
echo "client tools installed: $(node_modules/.bin/openapi-typescript --version 2>/dev/null | tail -1), $(node_modules/.bin/tsc --version)"
