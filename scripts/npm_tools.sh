# Sourced by the install_*.sh scripts: npm itself, and one pinned npm package installed project-local.

# ensure_npm WHO: installs Debian's nodejs and npm when npm is missing (as root, with apt-get); else
# stops with a message naming WHO.
ensure_npm() {
    if command -v npm >/dev/null 2>&1; then
        return 0
    fi
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "$1: npm is missing; install Node.js and npm (e.g. apt-get install nodejs npm)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends nodejs npm >/dev/null || {
        apt-get update >/dev/null && apt-get install -y --no-install-recommends nodejs npm >/dev/null
    }
}

# install_pinned NAME PACKAGE VERSION BINARY: PACKAGE@VERSION into .tools/NAME, unless that version is
# there already; BINARY is the executable inside .tools/NAME that must answer --version.
install_pinned() {
    local name="$1" package="$2" version="$3"
    local prefix=".tools/$name"
    local stamp="$prefix/.installed-$version" binary="$prefix/$4"
    if [[ -f "$stamp" && -x "$binary" ]]; then
        return 0
    fi
    ensure_npm "install_$name"
    rm -rf "$prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$package@$version" >/dev/null
    "$binary" --version >/dev/null
    touch "$stamp"
    echo "$name $version installed: $binary"
}
