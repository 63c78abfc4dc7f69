#!/usr/bin/env bash
# Distribution benchmark: N long-polling watchers (held by one load-generator process), then
# one commit; how long until every watcher has the new bundle (p50, p99, max), and the
# server's RSS and CPU. Runs a release `meshc serve` on 127.0.0.1 over a real git repository
# (the example mesh of policies/).
#
#   Benchmarks/serve.sh [WATCHERS...]                  one replica, in memory (default: 100 1000)
#   Benchmarks/serve.sh --store etcd [PROXIES [WAITERS]]
#       two replicas sharing an etcd member; PROXIES simulated proxies (default 10000) long-poll
#       and report; commit → applied p50/p99, endpoint change → every replica's waiters woken,
#       etcd writes per second at steady state, RSS of each replica (serve_etcd_load.py)
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
swift build -c release --static-swift-stdlib --product meshc >/dev/null
if [[ ${1:-} == --store ]]; then
  [[ ${2:-} == etcd ]] || { echo "serve.sh: --store takes etcd" >&2; exit 2; }
  command -v etcd >/dev/null || ci/install-deps.sh --test
  shift 2
  exec python3 Benchmarks/serve_etcd_load.py .build/release/meshc "$@"
fi
counts=("${@:-100 1000}")
read -r -a counts <<< "${counts[*]}"
python3 Benchmarks/serve_load.py .build/release/meshc "${counts[@]}"
