#!/usr/bin/env bash
# The proxy links only the contract (MeshConfig), bundles and SwiftNIO: never the policy
# model, the analyzers, the compiler or libgit2 (../shared/DESIGN.md). Fails if any target
# MeshProxy depends on, directly or not, is one of those.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package dump-package | python3 -c '
import json, sys
pkg = json.load(sys.stdin)
deps = {}
for t in pkg["targets"]:
    names = []
    for d in t["dependencies"]:
        for kind in ("byName", "target"):
            if kind in d:
                names.append(d[kind][0])
    deps[t["name"]] = names
forbidden = {"MeshPolicy", "MeshAnalysis", "MeshCompiler", "MeshPipeline", "MeshGit", "CGit2", "CLibYAML", "MeshServer", "MeshCLI"}
seen, todo = set(), ["MeshProxy"]
while todo:
    t = todo.pop()
    for d in deps.get(t, []):
        if d not in seen:
            seen.add(d)
            todo.append(d)
bad = sorted(seen & forbidden)
if "MeshProxy" not in deps:
    sys.exit("check-proxy-deps: no MeshProxy target")
if bad:
    sys.exit("check-proxy-deps: MeshProxy links " + ", ".join(bad))
print("check-proxy-deps: MeshProxy links " + ", ".join(sorted(d for d in seen if d in deps)) + " (no policy model, analyzers or libgit2)")
'

# And the built binary loads no full Foundation: FoundationEssentials only, so ICU's data
# (~12 MiB resident) stays out of every sidecar.
bin=${1:-.build/debug/mesh-proxy}
[[ -x $bin ]] || { echo "check-proxy-deps: no $bin (build it first)" >&2; exit 1; }
if ldd "$bin" | grep -qE 'libFoundation\.so|libFoundationInternationalization|lib_FoundationICU'; then
  echo "check-proxy-deps: $bin loads Foundation (only FoundationEssentials is allowed):" >&2
  ldd "$bin" | grep -E 'Foundation|ICU' >&2
  exit 1
fi
echo "check-proxy-deps: $bin loads FoundationEssentials only"
