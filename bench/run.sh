#!/usr/bin/env bash
# Runs every benchmark under bench/ in turn. Benchmarks print numbers; they assert nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
found=0
for b in bench/bench-*.sh; do
    [ -e "$b" ] || continue
    found=1
    echo "== $b"
    bash "$b"
done
[ "$found" = 1 ] || echo "no benchmarks yet (they arrive with the send and live-delivery work)"
