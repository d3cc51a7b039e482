#!/usr/bin/env bash
# deps.sh: install what building, running and testing Missive needs on
# Debian 12 (bookworm). Idempotent; fast (< 1 s) when everything is present.
#
# As root it runs apt-get itself; otherwise it lists what is missing and the
# command to run. Node.js: a `node` already on PATH (from any source) is kept,
# Debian's nodejs/npm are installed only when node/npm are missing. Then the
# e2e tests' npm packages (tests/e2e) are installed when out of date.
set -euo pipefail

PACKAGES="build-essential pkg-config clang libclang-rt-14-dev llvm openssl libfcgi-dev libpq-dev libmicrohttpd-dev
libjansson-dev libcurl4-openssl-dev libjwt-dev libssl-dev libargon2-dev libcmocka-dev libvips-dev
nginx postgresql-15 postgresql-client-15 nodejs npm curl ca-certificates procps
iproute2 chromium"
# OpenStack Swift with s3api: the SigV4-checking S3 store the media tests run
# against (tests/peers/swift-peer.sh; ../shared/design/TEST-PEERS.md).
SWIFT_PACKAGES="swift swift-proxy swift-object swift-container swift-account python3-swift"

REPO=$(cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.." && pwd)
E2E=$REPO/tests/e2e
NPM_STAMP=$E2E/node_modules/.missive-deps-stamp

say() { printf 'deps: %s\n' "$*"; }
die() {
    say "error: $*" >&2
    exit 1
}

# The packages to have: Debian's nodejs and npm only when there is no node
# at all (a NodeSource or nvm node is kept, and comes with its own npm).
wanted() {
    local p
    for p in $PACKAGES $SWIFT_PACKAGES; do
        case $p in
        nodejs | npm) ! command -v node >/dev/null || continue ;;
        esac
        printf '%s\n' "$p"
    done
}

# Prints the wanted packages that dpkg does not list as installed (one query).
missing() {
    local want have
    want=$(wanted)
    have=$({ dpkg-query -W -f='${Package} ${Status}\n' $want 2>/dev/null || true; } |
        awk '$NF == "installed" { print $1 }')
    comm -23 <(sort -u <<<"$want") <(sort -u <<<"$have")
}

npm_needed() {
    [ -f "$E2E/package.json" ] || return 1
    [ -f "$NPM_STAMP" ] || return 0
    [ "$E2E/package.json" -nt "$NPM_STAMP" ] && return 0
    [ -f "$E2E/package-lock.json" ] && [ "$E2E/package-lock.json" -nt "$NPM_STAMP" ]
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    say "installing: $*"
    apt-get update -q
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "$@"
}

# Debian's nginx package starts a system nginx on port 80: the project runs
# its own instances (deploy/stack.sh), so stop that one and keep it off.
quiet_system_nginx() {
    if [ -d /run/systemd/system ]; then
        systemctl disable --now nginx >/dev/null 2>&1 || true
    else
        update-rc.d nginx disable >/dev/null 2>&1 || true
    fi
    if [ -f /run/nginx.pid ]; then
        nginx -s quit >/dev/null 2>&1 || true
    fi
}

install_packages() {
    local -a need=("$@")
    if [ "$(id -u)" != 0 ]; then
        say "missing Debian packages: ${need[*]}" >&2
        say "install them as root with:" >&2
        printf '  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' \
            "${need[*]}" >&2
        exit 1
    fi
    apt_install "${need[@]}"
    case " ${need[*]} " in *" nginx "*) quiet_system_nginx ;; esac
    local still
    still=$(missing)
    [ -z "$still" ] || die "still missing after apt-get install: $(echo $still)"
}

install_npm() {
    command -v npm >/dev/null || die "npm not found (node is $(command -v node)); install npm for it"
    say "installing npm packages in tests/e2e"
    if [ -f "$E2E/package-lock.json" ]; then
        (cd "$E2E" && npm ci --no-audit --no-fund)
    else
        (cd "$E2E" && npm install --no-audit --no-fund)
    fi
    mkdir -p -- "$E2E/node_modules"
    touch -- "$NPM_STAMP"
}

main() {
    local -a need
    mapfile -t need < <(missing)
    if [ "${#need[@]}" -eq 0 ] && ! npm_needed; then
        say "all present"
        exit 0
    fi
    [ "${#need[@]}" -eq 0 ] || install_packages "${need[@]}"
    ! npm_needed || install_npm
    say "done"
}

main "$@"
