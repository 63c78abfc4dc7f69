#!/usr/bin/env bash
# Regenerates ci/mesh-proxy.order, the link order of the sidecar's code
# (ci/build-sidecar.sh links with it): every function mesh-proxy runs while starting,
# applying a bundle, proxying HTTP/1 and HTTP/2 traffic, serving its admin port and
# draining, hottest first, as valgrind's callgrind counts them.
#
# Why: the kernel maps a binary's code in 64 KiB blocks around each page touched, so code
# used once at start-up keeps its whole neighbourhood resident. Placed together, the code a
# sidecar runs fills a few MiB instead of being spread over the 19 MiB of text, and the hot
# path shares cache lines and TLB entries. A function missing from the file (new code) is
# only placed later; the order never changes what the code does.
# Usage: Benchmarks/proxy/order.sh   (needs valgrind, nginx, curl, wrk; about a minute)
set -euo pipefail
cd "$(dirname "$0")/../.."
source Benchmarks/proxy/common.sh
root=$PWD
for b in valgrind nginx curl; do command -v $b >/dev/null || { echo "order.sh: needs $b" >&2; exit 2; }; done
ci/build-sidecar.sh --no-order >/dev/null
swift build -c release --static-swift-stdlib --product meshc >/dev/null
work=$(mktemp -d)
trap 'bench_cleanup "$work"' EXIT
bench_nginx "$work"
bench_bundle "$work" .build/release/meshc
bench_proxy_args "$work"
# valgrind 3.19 cannot read the toolchain's DWARF 5: profile a copy without it (same code).
objcopy --strip-debug .build-sidecar/release/mesh-proxy "$work/mesh-proxy"
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" --dump-instr=no --compress-strings=no --demangle=no \
  "$work/mesh-proxy" "${bench_proxy_args[@]}" 2> "$work/proxy.log" &
pid=$!
for _ in $(seq 1 300); do curl -sf http://127.0.0.1:15010/ready >/dev/null && break; sleep 0.2; done
# HTTP/1 keep-alive and new connections, a retried 5xx, HTTP/2 with prior knowledge, the admin port.
for _ in $(seq 1 20); do curl -s http://127.0.0.1:15004/ http://127.0.0.1:15004/a http://127.0.0.1:15004/b >/dev/null; done
curl -s http://127.0.0.1:15004/fail503 >/dev/null || true
curl -s --http2-prior-knowledge http://127.0.0.1:15004/ >/dev/null || true
curl -s -X POST --data 'hello' http://127.0.0.1:15004/ >/dev/null
# Then enough keep-alive requests that the request path sorts first.
python3 - <<'PY'
import socket
s = socket.create_connection(("127.0.0.1", 15004))
buf = b""
for _ in range(2000):
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:15004\r\n\r\n")
    while b"\r\n\r\nok" not in buf: buf += s.recv(65536)
    buf = buf.split(b"\r\n\r\nok", 1)[1]
PY
# And concurrent connections, as a sidecar under load sees them (partial reads and writes,
# many channels on the loop).
if command -v wrk >/dev/null; then wrk -t1 -c32 -d5 http://127.0.0.1:15004/ >/dev/null 2>&1 || true; fi
for p in /ready /stats/prometheus /config_dump /clusters; do curl -s "http://127.0.0.1:15010$p" >/dev/null; done
kill -TERM $pid; wait $pid || true
# callgrind's "fn=" lines name each function once; the cost lines after it add to it.
python3 - "$work/callgrind.out" > ci/mesh-proxy.order <<'PY'
import re, sys
cost, fn, ob, skip = {}, None, None, False
for line in open(sys.argv[1], errors="replace"):
    if skip:                      # the line after calls= is the callee's inclusive cost
        skip = False
        continue
    if line.startswith("ob="):
        ob = line[3:].strip()
    elif line.startswith("fn="):
        name = re.sub(r"'\d+$", "", line[3:].strip())
        fn = name if ob is None or ob.endswith("/mesh-proxy") else None
        if fn is not None: cost.setdefault(fn, 0)
    elif line.startswith("calls="):
        skip = True
    elif fn is not None and line[:1].isdigit():
        parts = line.split()
        if len(parts) >= 2: cost[fn] += int(parts[1])
for name, _ in sorted(cost.items(), key=lambda kv: (-kv[1], kv[0])):
    if not re.fullmatch(r"0x[0-9a-f]+", name): print(name)
PY
echo "order.sh: $(wc -l < ci/mesh-proxy.order) functions in ci/mesh-proxy.order"
