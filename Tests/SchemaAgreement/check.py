#!/usr/bin/env python3
"""meshc's type checker and a real JSON Schema validator (Python's jsonschema, draft 2020-12)
must agree on every document of a corpus: the documents of policies/ (valid) and the
documents under Tests/SchemaAgreement/invalid/ (each invalid in one way, named by its file).
Also validates `meshc lint --format json` output against schemas/diagnostics.schema.json.

Usage: check.py path/to/meshc
"""
import glob, json, os, subprocess, sys, tempfile
import jsonschema, yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MESHC = os.path.abspath(sys.argv[1])
TYPE_CODES = {"MESH0010", "MESH0011", "MESH0012", "MESH0013", "MESH0014", "MESH0015",
              "MESH0016", "MESH0017", "MESH0018", "MESH0019", "MESH0021"}

NOT_KINDS = {"diagnostics.schema.json", "meshconfig.schema.json", "diff.schema.json"}
schemas = {}
for path in glob.glob(os.path.join(ROOT, "schemas", "*.schema.json")):
    if os.path.basename(path) in NOT_KINDS:
        continue
    s = json.load(open(path))
    schemas[s["title"].split(" ")[0]] = s
diag_schema = json.load(open(os.path.join(ROOT, "schemas", "diagnostics.schema.json")))
config_schema = json.load(open(os.path.join(ROOT, "schemas", "meshconfig.schema.json")))
diff_schema = json.load(open(os.path.join(ROOT, "schemas", "diff.schema.json")))

def documents(path):
    text = open(path).read()
    return [d for d in text.split("\n---\n") if yaml.safe_load(d) is not None]

def meshc_verdict(doc_text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(doc_text)
        name = f.name
    try:
        out = subprocess.run([MESHC, "lint", name, "--format", "json"], capture_output=True, text=True)
        result = json.loads(out.stdout)
        jsonschema.validate(result, diag_schema)
        codes = {d["code"] for d in result["diagnostics"]}
        return not (codes & TYPE_CODES), sorted(codes & TYPE_CODES)
    finally:
        os.unlink(name)

def schema_verdict(doc_text):
    doc = yaml.safe_load(doc_text)
    schema = schemas.get(doc.get("kind"))
    if schema is None:
        return None, "no schema"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    return not errors, [e.message for e in errors[:2]]

cases = []
for path in sorted(glob.glob(os.path.join(ROOT, "policies", "**", "*.yaml"), recursive=True)):
    if "/broken/" in path:
        continue
    for i, d in enumerate(documents(path)):
        cases.append((f"{os.path.relpath(path, ROOT)}#{i}", d, True))
for path in sorted(glob.glob(os.path.join(ROOT, "Tests", "SchemaAgreement", "invalid", "*.yaml"))):
    cases.append((os.path.relpath(path, ROOT), open(path).read(), False))

# The compiled configuration contract: every workload of policies/ must validate.
def config_cases():
    out = subprocess.run([MESHC, "mtls", os.path.join(ROOT, "policies"), "--format", "json"], capture_output=True, text=True)
    for w in json.loads(out.stdout)["workloads"]:
        key = f'{w["namespace"]}/{w["name"]}'
        cfg = subprocess.run([MESHC, "compile", os.path.join(ROOT, "policies"), "--workload", key], capture_output=True, text=True)
        yield key, json.loads(cfg.stdout)

# Signed bundles: each payload's config, and each shared outbound part it pins.
def bundle_cases():
    import base64, tempfile
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([MESHC, "keygen", "--out", tmp + "/keys"], check=True, capture_output=True)
        subprocess.run([MESHC, "compile", os.path.join(ROOT, "policies"), "--key", tmp + "/keys/signing.key", "--out", tmp + "/out"],
                       check=True, capture_output=True)
        part_schema = dict(config_schema, **{"$ref": "#/$defs/outboundPart"})
        for k in ("required", "properties", "additionalProperties", "type"):
            part_schema.pop(k, None)
        for path in sorted(glob.glob(tmp + "/out/*/*.json")):
            name = os.path.relpath(path, tmp + "/out")
            doc = json.load(open(path))
            if name.startswith("_parts/"):
                yield "part " + name, part_schema, doc
            else:
                yield "bundle " + name, config_schema, json.loads(base64.b64decode(doc["payload"]))["config"]

passed = failed = 0
for name, schema, doc in bundle_cases():
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if errors:
        failed += 1
        print(f"{name} does not match schemas/meshconfig.schema.json: {errors[0].message} at {list(errors[0].absolute_path)}")
    else:
        passed += 1
for key, cfg in config_cases():
    errors = list(jsonschema.Draft202012Validator(config_schema).iter_errors(cfg))
    if errors:
        failed += 1
        print(f"CONFIG {key} does not match schemas/meshconfig.schema.json: {errors[0].message} at {list(errors[0].absolute_path)}")
    else:
        passed += 1

# `meshc diff --format json` on a realistic change (every change kind that policies/ can show).
def diff_output():
    import shutil
    with tempfile.TemporaryDirectory() as d:
        git = lambda *a: subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *a], cwd=d, check=True, capture_output=True)
        shutil.copytree(os.path.join(ROOT, "policies"), os.path.join(d, "policies"), ignore=shutil.ignore_patterns("broken"))
        git("init", "-q", "-b", "main"); git("add", "-A"); git("commit", "-qm", "base")
        def edit(f, old, new):
            p = os.path.join(d, "policies", f); t = open(p).read()
            assert old in t, f"{f} lacks {old!r}"
            open(p, "w").write(t.replace(old, new))
        edit("shop/orders.yaml", "weight: 90", "weight: 50"); edit("shop/orders.yaml", "weight: 10", "weight: 50")
        edit("shop/catalog.yaml", "timeout: 2s", "timeout: 1s")
        edit("payments/security.yaml", "cluster.local/ns/shop/sa/orders", "cluster.local/ns/web/sa/frontend")
        edit("payments/security.yaml", "mode: STRICT", "mode: PERMISSIVE")
        with open(os.path.join(d, "policies", "shop", "broken.yaml"), "w") as f:
            f.write("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x, namespace: shop}\nspec: {hosts: [orders.example.com], http: [{route: [{destination: {host: orders, subset: nope}}]}]}\n")
        out = subprocess.run([MESHC, "diff", "main", "--dir", "policies", "--format", "json"], cwd=d, capture_output=True, text=True)
        return json.loads(out.stdout)

diff = diff_output()
errors = list(jsonschema.Draft202012Validator(diff_schema).iter_errors(diff))
kinds = {c["kind"] for g in diff["outbound"] + diff["workloads"] for c in g["changes"]}
if errors or not {"traffic-shift", "timeout", "access-revoked", "mtls"} <= kinds or not diff["introduced"]:
    failed += 1
    print(f"DIFF output does not match schemas/diff.schema.json: {errors[0].message if errors else ''} at {list(errors[0].absolute_path) if errors else ''}; kinds {sorted(kinds)}")
else:
    passed += 1

for name, text, expected in cases:
    m, m_why = meshc_verdict(text)
    s, s_why = schema_verdict(text)
    if m == expected and s == expected:
        passed += 1
    else:
        failed += 1
        print(f"DISAGREE {name}: expected valid={expected}, meshc={m} {m_why}, jsonschema={s} {s_why}")
print(f"schema-agreement: {passed} passed, {failed} failed")
sys.exit(1 if failed or passed < 45 else 0)
