#!/usr/bin/env bash
# Builds mesh-proxy as a sidecar image ships it, into .build-sidecar/release/mesh-proxy:
#  - release, linked statically against the Swift runtime (only the pages of the runtime the
#    proxy touches are resident; shared .so files map whole regions);
#  - without dynamic exclusivity checks in any module (NIO's included): the request path's
#    state is confined to its event loop, and the checks cost ~4 % of its CPU (perf);
#  - each function in its own section, linked by lld in the order of ci/mesh-proxy.order
#    (Benchmarks/proxy/order.sh makes it): the code a sidecar runs sits together, so a few
#    MiB of code are resident instead of most of the binary (docs/proxy.md, "Memory");
#  - no dynamic symbol table for its own symbols (--no-export-dynamic: nothing loads the
#    proxy as a library, and the dynamic loader's walk through 1 MiB of exported symbols kept
#    2 MiB of tables resident) and relative relocations packed (-z pack-relative-relocs,
#    glibc 2.36+: 16 KiB instead of 1.9 MiB read at every start).
# A scratch path of its own: other flags in .build would rebuild everything each time.
# Usage: ci/build-sidecar.sh [--no-order]; prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .build-sidecar
order=(-Xlinker "--symbol-ordering-file=$PWD/ci/mesh-proxy.order" -Xlinker --no-warn-symbol-ordering)
[[ ${1:-} == --no-order || ! -s ci/mesh-proxy.order ]] && order=()
swift build -c release --product mesh-proxy --static-swift-stdlib --scratch-path .build-sidecar \
  -Xswiftc -enforce-exclusivity=unchecked -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections \
  -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic "${order[@]}" > .build-sidecar/build.log 2>&1 || { cat .build-sidecar/build.log >&2; exit 1; }
echo "$PWD/.build-sidecar/release/mesh-proxy"
