#!/usr/bin/env bash
# mesh-proxy against real Envoy (and HAProxy) on this machine, in the same run: drives
# ../shared/bench/proxy/bench.sh (SHARED overrides that path) with mesh-proxy running from a
# bundle equivalent to that harness's Envoy config (Benchmarks/proxy/mesh.yaml: 90/10 split
# over two subsets of the same nginx upstream, retries on 5xx), pinned as the harness pins.
# Ends with exactly one line:
#   mesh-proxy vs envoy: cpu/request ratio R, rss M MiB, p99 added A us (envoy E us), req/s Q (envoy QE)
# Usage: Benchmarks/proxy/run.sh [RUNS] (default 3; the harness's DURATION, CONNS, PIN… apply)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
shared=${SHARED:-$root/../shared/bench/proxy}
[[ -x $shared/bench.sh ]] || { echo "run.sh: no $shared/bench.sh (set SHARED)" >&2; exit 2; }
for b in nginx wrk haproxy curl; do
  command -v "$b" >/dev/null || { [[ $(id -u) == 0 ]] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk haproxy curl >/dev/null; break; }
done
# The sidecar as it ships (ci/build-sidecar.sh: static Swift runtime, no exclusivity checks,
# code in the link order of ci/mesh-proxy.order).
proxy=$(ci/build-sidecar.sh)
swift build -c release --static-swift-stdlib --product meshc >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.build/release/meshc keygen --out "$work/keys" >/dev/null
.build/release/meshc compile Benchmarks/proxy/mesh.yaml --key "$work/keys/signing.key" --out "$work/out" >/dev/null
cmd="$proxy --workload bench/client --trust $work/keys/trust.json --state-dir $work/state"
cmd+=" --bundle $work/out/bench/client.json --parts $work/out/_parts"
cmd+=" --outbound 127.0.0.1:15004 --inbound 127.0.0.1:15016 --app 127.0.0.1:18080 --admin 127.0.0.1:15010"
log="$work/bench.log"
SWIFT_CMD="$cmd" SWIFT_PORT=15004 "$shared/bench.sh" "${1:-3}" | tee "$log"
results=$(sed -n 's/^# results in //p' "$log" | tail -1)
python3 - "$results" <<'PY'
import csv, re, statistics, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/summary.csv")))
conns = max(int(r["conns"]) for r in rows)
def med(target, field):
    vals = [float(r[field]) for r in rows if r["target"] == target and int(r["conns"]) == conns and r[field] not in ("", "NA")]
    return statistics.median(vals) if vals else float("nan")
mem = {}
for line in open(f"{out}/memory.txt"):
    m = re.match(r"(\S+)\s+idle\s+(\d+)\s+after-load\s+(\d+)", line)
    if m: mem[m.group(1)] = int(m.group(3)) / 1024
direct_p99 = med("direct", "p99_us")
ratio = med("swift", "proxy_cpu_us_per_req") / med("envoy", "proxy_cpu_us_per_req")
print(f"mesh-proxy vs envoy: cpu/request ratio {ratio:.2f}, rss {mem.get('swift', float('nan')):.1f} MiB, "
      f"p99 added {med('swift', 'p99_us') - direct_p99:.0f} us (envoy {med('envoy', 'p99_us') - direct_p99:.0f} us), "
      f"req/s {med('swift', 'rps'):.0f} (envoy {med('envoy', 'rps'):.0f})")
PY
