# meshc — the two commands a newcomer needs:
#   make demo   the whole mesh: as root, the transparent mesh in network-namespace pods (apps
#               unaware of it: DNS, HTTP, WebSocket, gRPC, Redis by service name, STRICT mTLS,
#               authorization; demo/transparent.py); otherwise on 127.0.0.1 in explicit mode
#               (split, canary header, retries, mTLS, authorization, a canary shift and a broken
#               commit; demo/run.py)
#   make test   run every test (what CI runs)
# Both install missing system packages first (as root; otherwise they say what to install).

SWIFT ?= swift
MESHC := .build/debug/meshc
PROXY := .build/debug/mesh-proxy

.PHONY: all deps build demo test generate conformance bench fuzz clean

all: build

deps:
	@ci/install-deps.sh

build: deps
	$(SWIFT) build

# As root with network namespaces: the transparent mesh (demo/transparent.py: pods, capture
# rules, apps calling each other by name, unaware of the mesh). Otherwise the explicit mode
# (demo/run.py: apps pointed at their proxies on 127.0.0.1), and it says why.
demo: build
	@if [ "$$(id -u)" = 0 ]; then ci/install-deps.sh --test; fi
	@if python3 demo/transparent.py --can-run; then \
	  echo "make demo: the transparent mesh — the apps call each other by service name, unaware of the mesh"; \
	  python3 demo/transparent.py $(MESHC) $(PROXY) --console; \
	else \
	  echo "make demo: explicit mode (the apps are pointed at their proxies); the transparent mesh needs root and the tools above"; \
	  python3 demo/run.py $(MESHC) $(PROXY) --console; \
	fi

test:
	@ci/install-deps.sh --test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	ci/check-proxy-deps.sh
	python3 Tests/SchemaAgreement/check.py $(MESHC)
	python3 Tests/SchemaAgreement/server.py $(MESHC)
	python3 Tools/generate-istio-schemas.py | cmp -s - Sources/MeshPolicy/Schema/IstioSchemas+Generated.swift \
	  || { echo "IstioSchemas+Generated.swift is stale: run make generate" >&2; exit 1; }
	MESHC=$(MESHC) python3 Tools/readme-examples.py --check
	ci/stress.sh $(MESHC)
	python3 demo/run.py $(MESHC) $(PROXY)
	python3 ci/reliability.py $(MESHC) $(PROXY)
	python3 Tests/Console/console_test.py $(MESHC) $(PROXY)
	ci/sidecar-smoke.sh $(MESHC)
	python3 demo/transparent.py $(MESHC) $(PROXY)
	ci/fuzz.sh 30

# Regenerate the files generated from the code (tests fail when they are stale).
generate: build
	python3 Tools/generate-istio-schemas.py > Sources/MeshPolicy/Schema/IstioSchemas+Generated.swift
	$(SWIFT) build
	$(MESHC) schemas --out schemas
	$(MESHC) rules --format markdown > docs/rules.md
	MESHC=$(MESHC) python3 Tools/readme-examples.py --write

# Istio's own analyzer test cases (../shared/conformance).
conformance: build
	python3 ../shared/conformance/score.py $(MESHC) ../shared/conformance/istio-analyze/cases
	python3 ../shared/conformance/validate.py $(MESHC) ../shared/conformance/istio-validate/cases

bench:
	@ci/install-deps.sh --test
	Benchmarks/run.sh
	Benchmarks/compile.sh
	Benchmarks/diff.sh

# libFuzzer over the bundle verifier, key and trust-root parsers and the YAML loader.
fuzz: deps
	ci/fuzz.sh 300

clean:
	rm -rf .build
