#!/usr/bin/env bash
# Lints /openapi.yaml with Redocly CLI (pinned in tests/e2e/package.json) and
# tests/e2e/redocly.yaml (recommended-strict: every finding is an error).
# Exits non-zero when there is any finding.
# Usage: bash tests/e2e/lint-openapi.sh [path/to/openapi.yaml]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
spec="$(realpath "${1:-$root/openapi.yaml}")"

if [ ! -x "$here/node_modules/.bin/redocly" ]; then
    echo "lint-openapi: installing tests/e2e dependencies (npm ci)" >&2
    (cd "$here" && npm ci --no-audit --no-fund >&2)
fi

# No phoning home, no update banner.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true

cd "$here"
npx --no-install redocly lint --config redocly.yaml --max-problems 200 --format stylish \
    "$spec" 2> >(grep -v '[║╔╚]' >&2)
