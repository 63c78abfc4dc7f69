#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: the sidecar build
# (ci/build-sidecar.sh) from the benchmark bundle (Benchmarks/proxy/mesh.yaml), N keep-alive
# GETs to nginx through it, counting only from the first request on (start-up excluded).
# Unlike CPU time on a shared VM, the count repeats from run to run, so it shows what a
# change to the request path costs. It counts user-space instructions only (the kernel's
# share of a request, about half of its CPU time, is not in it).
# Usage: Benchmarks/proxy/instructions.sh [N] (default 3000); ends with one line:
#   mesh-proxy instructions per request: I (N requests)
# With PROFILE=1 it also prints the functions that cost most, callees included; PROXY=path
# counts another mesh-proxy binary instead (an older build, to compare); KEEP=path keeps the
# callgrind output there (callgrind_annotate --tree=calling reads who costs what).
set -euo pipefail
cd "$(dirname "$0")/../.."
source Benchmarks/proxy/common.sh
n=${1:-3000}
for b in valgrind callgrind_control nginx curl objcopy; do command -v $b >/dev/null || { echo "instructions.sh: needs $b" >&2; exit 2; }; done
proxy=${PROXY:-$(ci/build-sidecar.sh)}
swift build -c release --static-swift-stdlib --product meshc >/dev/null
work=$(mktemp -d)
trap 'bench_cleanup "$work"' EXIT
bench_nginx "$work"
bench_bundle "$work" .build/release/meshc
bench_proxy_args "$work"
# valgrind 3.19 cannot read the toolchain's DWARF 5: the same code without it.
objcopy --strip-debug "$proxy" "$work/mesh-proxy"
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" --dump-instr=no --instr-atstart=no \
  "$work/mesh-proxy" "${bench_proxy_args[@]}" 2> "$work/proxy.log" &
pid=$!
for _ in $(seq 1 300); do curl -sf http://127.0.0.1:15010/ready >/dev/null && break; sleep 0.2; done
# One request first, so the upstream connection is open before counting starts.
curl -s http://127.0.0.1:15004/ >/dev/null
callgrind_control -i on $pid >/dev/null
python3 - "$n" <<'PY'
import socket, sys
n = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", 15004))
buf = b""
for _ in range(n):
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:15004\r\nUser-Agent: wrk\r\n\r\n")
    while b"\r\n\r\nok" not in buf: buf += s.recv(65536)
    buf = buf.split(b"\r\n\r\nok", 1)[1]
PY
kill -TERM $pid; wait $pid || true
total=$(awk '/^(summary|totals):/{print $2; exit}' "$work/callgrind.out")
[[ -n ${KEEP:-} ]] && cp "$work/callgrind.out" "$KEEP"
if [[ ${PROFILE:-0} == 1 ]]; then
  callgrind_annotate --inclusive=yes "$work/callgrind.out" 2>/dev/null | sed -n '20,80p' | swift demangle --simplified | cut -c1-160
fi
echo "mesh-proxy instructions per request: $((total / n)) ($n requests)"
