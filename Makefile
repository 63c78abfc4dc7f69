# meshc — the two commands a newcomer needs:
#   make demo   the whole mesh on 127.0.0.1: lint, meshc serve with a CA, apps with a mesh-proxy each,
#               traffic (split, canary header, retries, mTLS, authorization), a canary shift and
#               a broken commit (demo/run.py)
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

demo: build
	python3 demo/run.py $(MESHC) $(PROXY)

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
	ci/sidecar-smoke.sh $(MESHC)
	python3 ci/mesh-pods.py $(MESHC) $(PROXY)
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
