#!/bin/bash
# Swift + s3api + tempauth in one directory, loopback only. S3 key "test:tester", secret "testing".
# usage: swift-peer.sh start|stop|bucket NAME   env: SWIFT_ROOT (default /tmp/swift-peer), SWIFT_PORT (default 19080)
# The recipe of ../shared/design/TEST-PEERS.md section 1, plus "bucket NAME" (creates a bucket)
# and SWIFT_WAIT (tenths of a second to wait for the servers at start; default 100).
# Used by tests/e2e/run.sh for the media tests against the s3 storage backend.
set -euo pipefail
R=$(realpath -m "${SWIFT_ROOT:-/tmp/swift-peer}") P=${SWIFT_PORT:-19080} PY=/usr/bin/python3  # Debian's python3
declare -A PORT=([proxy]=$P [object]=$((P+2)) [container]=$((P+3)) [account]=$((P+4)))
setup() {
  mkdir -p "$R/etc" "$R/run" "$R/data/d1"; cd "$R/etc"
  # max_meta_*: AWS's 2 KiB user-metadata limit; also keeps an object's xattrs in one 4 KiB ext4 block
  printf '%s\n' '[swift-hash]' 'swift_hash_path_suffix = t' '[storage-policy:0]' 'name = Policy-0' 'default = yes' \
    '[swift-constraints]' 'max_meta_value_length = 2048' 'max_meta_overall_size = 2048' > swift.conf
  for s in proxy object container account; do
    printf '%s\n' '[DEFAULT]' 'bind_ip = 127.0.0.1' "bind_port = ${PORT[$s]}" 'workers = 0' "swift_dir = $R/etc" \
      "devices = $R/data" 'mount_check = false' "recon_cache_path = $R/run" \
      'log_udp_host = 127.0.0.1' "log_udp_port = $((P+9))" > $s-server.conf
  done
  for s in object container account; do
    printf '%s\n' '[pipeline:main]' "pipeline = $s-server" "[app:$s-server]" "use = egg:swift#$s" >> $s-server.conf
    $PY /usr/bin/swift-ring-builder $s.builder create 4 1 1 >/dev/null
    $PY /usr/bin/swift-ring-builder $s.builder add r1z1-127.0.0.1:${PORT[$s]}/d1 1 >/dev/null
    $PY /usr/bin/swift-ring-builder $s.builder rebalance >/dev/null || [ $? = 1 ]
  done
  printf '%s\n' '[pipeline:main]' 'pipeline = healthcheck proxy-logging cache s3api tempauth slo proxy-server' \
    '[app:proxy-server]' 'use = egg:swift#proxy' 'account_autocreate = true' 'error_suppression_interval = 0' \
    '[filter:healthcheck]' 'use = egg:swift#healthcheck' '[filter:proxy-logging]' 'use = egg:swift#proxy_logging' \
    '[filter:cache]' 'use = egg:swift#memcache' "memcache_servers = 127.0.0.1:$((P+5))" \
    '[filter:s3api]' 'use = egg:swift#s3api' 'location = us-east-1' \
    '[filter:tempauth]' 'use = egg:swift#tempauth' 'user_test_tester = testing .admin' \
    '[filter:slo]' 'use = egg:swift#slo' >> proxy-server.conf
}
start() {
  if [ -f "$R/run/proxy.pid" ] && kill -0 "$(cat "$R/run/proxy.pid")" 2>/dev/null; then echo "already running" >&2; return 1; fi
  [ -f "$R/etc/account.ring.gz" ] || setup; mkdir -p "$R/data/d1"   # data/ may have been wiped
  for s in account container object proxy; do   # = swift-$s-server -v, but swift.conf from $R/etc, not /etc/swift
    $PY -c 'import sys; from swift.common import utils; utils.set_swift_dir(sys.argv[1])
from swift.common.wsgi import run_wsgi; sys.exit(run_wsgi(sys.argv[2], sys.argv[3], verbose=True))' \
      "$R/etc" "$R/etc/$s-server.conf" $s-server >>"$R/run/$s.log" 2>&1 &
    echo $! > "$R/run/$s.pid"
  done
  for i in $(seq "${SWIFT_WAIT:-100}"); do   # wait up to ~10 s (SWIFT_WAIT tenths) for all four ports
    if curl -fs "http://127.0.0.1:$P/healthcheck" >/dev/null && curl -s -o /dev/null "http://127.0.0.1:$((P+2))/" &&
       curl -s -o /dev/null "http://127.0.0.1:$((P+3))/" && curl -s -o /dev/null "http://127.0.0.1:$((P+4))/"; then return 0; fi
    sleep 0.1
  done
  echo "swift did not start; see $R/run/*.log" >&2; stop; return 1
}
stop() {   # each server takes ~1-2 s after SIGTERM: signal all, wait up to 5 s, then SIGKILL
  local pids; pids=$(cat "$R"/run/*.pid 2>/dev/null || true); rm -f "$R"/run/*.pid
  [ -n "$pids" ] || return 0
  kill $pids 2>/dev/null || true
  for i in $(seq 50); do kill -0 $pids 2>/dev/null || return 0; sleep 0.1; done
  kill -9 $pids 2>/dev/null || true
}
bucket() {   # a bucket for the key above; the key's colon is %3A in the URL's user part
  curl -sf --aws-sigv4 aws:amz:us-east-1:s3 -H x-amz-content-sha256:UNSIGNED-PAYLOAD -o /dev/null \
    -X PUT "http://test%3Atester:testing@127.0.0.1:$P/${1:?usage: $0 bucket NAME}"
}
"${1:?usage: $0 start|stop|bucket NAME}" "${@:2}"
