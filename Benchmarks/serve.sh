#!/usr/bin/env bash
# Distribution benchmark: N long-polling watchers (held by one load-generator process), then
# one commit; how long until every watcher has the new bundle (p50, p99, max), and the
# server's RSS and CPU. Runs a release `meshc serve` on 127.0.0.1 over a real git repository
# (the example mesh of policies/).
# Usage: Benchmarks/serve.sh [WATCHERS...] (default: 100 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("${@:-100 1000}")
read -r -a counts <<< "${counts[*]}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
swift build -c release --static-swift-stdlib --product meshc >/dev/null
python3 Benchmarks/serve_load.py .build/release/meshc "${counts[@]}"
