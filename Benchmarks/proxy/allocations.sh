#!/usr/bin/env bash
# Heap allocations per proxied request: mesh-proxy (release) under an LD_PRELOAD shim that
# counts malloc/calloc/realloc/posix_memalign, once with no traffic and once with N requests
# over keep-alive connections (wrk) to nginx; the difference divided by N.
# Usage: Benchmarks/proxy/allocations.sh [REQUESTS] (default 20000)
set -euo pipefail
cd "$(dirname "$0")/../.."
source Benchmarks/proxy/common.sh
n=${1:-20000}
for b in nginx wrk gcc; do command -v $b >/dev/null || { echo "allocations.sh: needs $b" >&2; exit 2; }; done
swift build -c release --static-swift-stdlib --product mesh-proxy >/dev/null
swift build -c release --static-swift-stdlib --product meshc >/dev/null
work=$(mktemp -d)
trap 'bench_cleanup "$work"' EXIT
gcc -O2 -shared -fPIC -o "$work/malloc-count.so" Benchmarks/proxy/malloc-count.c -ldl
bench_nginx "$work"; sleep 0.3
bench_bundle "$work" .build/release/meshc
bench_proxy_args "$work"
run() {  # $1: requests (0 = none); prints the process's allocation count
  rm -rf "$work/state"
  LD_PRELOAD="$work/malloc-count.so" .build/release/mesh-proxy "${bench_proxy_args[@]}" 2> "$work/proxy.log" &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:15010/ready >/dev/null && break; sleep 0.05; done
  curl -s http://127.0.0.1:15004/ >/dev/null
  if [[ $1 -gt 0 ]]; then
    python3 - "$1" <<'PY'
import socket, sys
n = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", 15004))
req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:15004\r\n\r\n"
buf = b""
for _ in range(n):
    s.sendall(req)
    while b"\r\n\r\nok" not in buf:
        buf += s.recv(65536)
    buf = buf.split(b"\r\n\r\nok", 1)[1]
PY
  fi
  kill -TERM $pid; wait $pid || true
  sed -n 's/^malloc-count: //p' "$work/proxy.log"
}
base=$(run 0)
loaded=$(run "$n")
python3 -c "print(f'mesh-proxy heap allocations per proxied request: {($loaded - $base) / $n:.1f} ({$loaded} - {$base} over $n requests on one keep-alive connection)')"
