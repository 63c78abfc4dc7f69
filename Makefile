# meshc — the two commands a newcomer needs:
#   make demo   lint the example mesh in policies/ (and show what policies/broken gets), then diff a change to it
#   make test   run every test (what CI runs)
# Both install missing system packages first (as root; otherwise they say what to install).

SWIFT ?= swift
MESHC := .build/debug/meshc

.PHONY: all deps build demo test generate conformance bench fuzz clean

all: build

deps:
	@ci/install-deps.sh

build: deps
	$(SWIFT) build

demo: build
	@echo "== meshc lint policies   (the example mesh: clean)"
	$(MESHC) lint policies
	@echo
	@echo "== meshc lint policies/broken   (mistakes people really make)"
	-$(MESHC) lint policies/broken
	@echo
	@echo "== meshc explain MESH0102"
	$(MESHC) explain MESH0102
	@echo
	@echo "== meshc diff HEAD~1 HEAD   (a pull request to policies/, read from git: what it does to traffic)"
	ci/demo-diff.sh $(MESHC)

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
