#!/usr/bin/env bash
# The console at scale: 200 services, 1,000 proxies, each view opened five times in headless
# Chromium; prints the time from navigation to the view drawn (Benchmarks/console_render.py).
# Usage: Benchmarks/console.sh [SERVICES [PROXIES]]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || ci/install-deps.sh --test
swift build -c release --static-swift-stdlib --product meshc >/dev/null
python3 Benchmarks/console_render.py .build/release/meshc "$@"
