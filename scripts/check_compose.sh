#!/usr/bin/env bash
# Validate compose.yaml (or the file given) the way Docker Compose reads it (`make test` runs this; no Docker engine needed).
#
# Uses, in order: the Compose v2 plugin (`docker compose`), a `docker-compose` already on PATH, or else
# Debian's docker-compose package (1.29, which reads the version-less Compose Specification files),
# installed with apt-get: CI runs as root on a fresh Debian 12 that reaches Debian's archive.
# Exit status: 0 when the file is valid; non-zero, with the validator's own message, when it is not.
set -euo pipefail
cd "$(dirname "$0")/.."

FILE="${1:-compose.yaml}"  # another file only to test this script
say() { echo "check_compose: $*"; }
fail() { echo "check_compose: FAILED: $*" >&2; exit 1; }

[ -f "$FILE" ] || fail "$FILE not found in $(pwd)"

# compose.yaml refuses to start without a token (the services listen on 0.0.0.0 inside their containers);
# validation only needs some value, never a real secret.
export CODESWARM_API_TOKEN="${CODESWARM_API_TOKEN:-compose-check-placeholder}"

install_debian_compose() {
    command -v apt-get >/dev/null 2>&1 || fail "no Docker Compose here and no apt-get to install Debian's docker-compose"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || fail "Docker Compose is missing: run as root, or: apt-get install docker-compose"
        sudo=(sudo)
    fi
    say "installing Debian's docker-compose with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq || fail "apt-get update failed"
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends docker-compose >/dev/null \
        || fail "apt-get install docker-compose failed"
}

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
else
    command -v docker-compose >/dev/null 2>&1 || install_debian_compose
    command -v docker-compose >/dev/null 2>&1 || fail "docker-compose is still not on PATH after installing it"
    compose=(docker-compose)
fi

version="$("${compose[@]}" version --short 2>/dev/null || "${compose[@]}" --version 2>/dev/null || echo unknown)"
say "validating $FILE with ${compose[*]} ($version)"
if ! "${compose[@]}" -f "$FILE" config -q; then
    fail "$FILE is not a valid compose file (see the message above)"
fi
# The file must name every service the deployment needs (a valid file could still have lost one).
services="$("${compose[@]}" -f "$FILE" config --services)"
for needed in postgres redis migrate router mirror web; do
    grep -qx "$needed" <<<"$services" || fail "$FILE has no '$needed' service"
done
say "$FILE is valid ($(tr '\n' ' ' <<<"$services"| sed 's/ $//'))"
