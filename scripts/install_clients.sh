#!/usr/bin/env bash
# Installs the pinned TypeScript client tools (openapi-typescript, typescript) from clients/package-lock.json
# into clients/node_modules, installing Debian's nodejs and npm first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../clients"
source ../scripts/npm_tools.sh
stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [[ -f "$stamp" && -x node_modules/.bin/openapi-typescript && -x node_modules/.bin/tsc ]]; then
    exit 0
fi
ensure_npm install_clients
npm ci --no-audit --no-fund --loglevel=error >/dev/null
node_modules/.bin/tsc --version >/dev/null
touch "$stamp"
echo "client tools installed: $(node_modules/.bin/openapi-typescript --version 2>/dev/null | tail -1), $(node_modules/.bin/tsc --version)"
