#!/usr/bin/env python3
"""The JSON that `meshc serve` answers must match its published schemas (schemas/server/),
checked with a real JSON Schema validator (Python's jsonschema, draft 2020-12) against a real
server following a real git repository: the fleet status with every kind of proxy, endpoints,
revisions with a published and a refused commit, and error answers.

Usage: server.py path/to/meshc
"""
import json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request, urllib.error
import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MESHC = os.path.abspath(sys.argv[1])
SCHEMAS = {n: json.load(open(os.path.join(ROOT, "schemas", "server", n + ".schema.json")))
           for n in ["status", "endpoints", "revisions", "report", "error", "services"]}
failures = []

def check(name, doc, what):
    v = jsonschema.Draft202012Validator(SCHEMAS[name], format_checker=jsonschema.FormatChecker())
    errors = list(v.iter_errors(doc))
    for e in errors:
        failures.append(f"{what}: {'/'.join(map(str, e.path))}: {e.message}")
    return not errors

def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"})

def call(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")

tmp = tempfile.mkdtemp(prefix="meshc-server-schema-")
try:
    repo = os.path.join(tmp, "repo")
    shutil.copytree(os.path.join(ROOT, "policies"), repo, ignore=shutil.ignore_patterns("broken"))
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "the example mesh", cwd=repo)
    subprocess.run([MESHC, "keygen", "--out", os.path.join(tmp, "keys")], check=True, capture_output=True)
    server = subprocess.Popen([MESHC, "serve", "--repo", repo, "--key", os.path.join(tmp, "keys", "signing.key"),
                               "--listen", "127.0.0.1:0", "--data-dir", os.path.join(tmp, "data"), "--poll-interval", "1h", "--plaintext"],
                              stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.time() + 20
    while port is None and time.time() < deadline:
        line = server.stderr.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
    assert port, "meshc serve did not start"
    while call(port, "GET", "/readyz")[0] != 200 and time.time() < deadline:
        time.sleep(0.05)
    _, revisions = call(port, "GET", "/v1/revisions")
    version = revisions["serving"]["version"]

    reports = [
        {"workload": "shop/orders-v1", "instance": "orders-v1-7d9f", "address": "127.0.0.1:15001", "version": version,
         "digest": "sha256:" + "0" * 64, "state": "applied", "reason": None, "at": "2026-12-01T00:00:00Z"},
        {"workload": "shop/orders-v2", "instance": "orders-v2-1", "address": "[::1]:15002", "state": "starting"},
        {"workload": "web/frontend", "instance": "frontend-1", "address": "127.0.0.1:15003", "version": version,
         "state": "rejected", "reason": "signature by an unknown key"},
        {"workload": "payments/payments", "instance": "payments-1", "address": "127.0.0.1:15004", "version": 1, "state": "expired"},
        # A captured pod (mesh-proxy --capture) announces its address alone.
        {"workload": "shop/orders-v1", "instance": "orders-v1-captured", "address": "10.0.0.9", "version": version, "state": "applied"},
    ]
    for r in reports:
        check("report", r, f"report {r['instance']}")
        status, answer = call(port, "POST", "/v1/status", r)
        assert status == 200, (status, answer)
    status, fleet = call(port, "GET", "/v1/status")
    check("status", fleet, "GET /v1/status")
    states = {p["instance"]: p["state"] for p in fleet["proxies"]}
    assert states == {"orders-v1-7d9f": "SYNCED", "orders-v1-captured": "SYNCED", "orders-v2-1": "SYNCING", "frontend-1": "REJECTED", "payments-1": "EXPIRED"}, states

    out = subprocess.run([MESHC, "proxy-status", "--server", f"http://127.0.0.1:{port}", "--format", "json"], capture_output=True, text=True)
    assert out.returncode == 1, out
    check("status", json.loads(out.stdout), "meshc proxy-status --format json")

    for w in ["web/frontend", "shop/orders-v1"]:
        # Endpoint lists are withheld (503) while the registry is rebuilt after a start.
        status, doc = call(port, "GET", f"/v1/endpoints/{w}")
        while status == 503 and time.time() < deadline + 15:
            check("error", doc, "GET /v1/endpoints while the registry warms up")
            time.sleep(0.2)
            status, doc = call(port, "GET", f"/v1/endpoints/{w}")
        assert status == 200, (status, doc)
        check("endpoints", doc, f"GET /v1/endpoints/{w}")
    assert any(doc["clusters"].values()), "some cluster has instances"
    status, services = call(port, "GET", "/v1/services")
    assert status == 200, (status, services)
    check("services", services, "GET /v1/services")
    assert all(s.get("address") for s in services["services"]), "every service has a virtual IP"
    # A static endpoints file has the same shape.
    check("endpoints", {"workload": "shop/orders-v1", "clusters": {"outbound|8080|v2|orders.shop.svc.cluster.local": [
        {"address": "10.0.0.7", "port": 15006, "workload": "shop/orders-v2", "instance": "vm-1", "targetPort": 8080, "labels": {"version": "v2"}}]}},
        "a static endpoints file")

    # A refused commit appears in /v1/revisions with its reason.
    path = os.path.join(repo, "shop", "orders.yaml")
    open(path, "w").write(open(path).read().replace("subset: v2", "subset: v9"))
    git("commit", "-qam", "route to an undefined subset", cwd=repo)
    call(port, "POST", "/v1/hooks/git", {})
    while time.time() < deadline + 10:
        _, revisions = call(port, "GET", "/v1/revisions")
        if len(revisions["revisions"]) >= 2:
            break
        time.sleep(0.05)
    assert revisions["revisions"][0]["outcome"] == "failed", revisions
    check("revisions", revisions, "GET /v1/revisions")

    for method, path, body in [("GET", "/v1/bundles/shop/nope", None), ("GET", "/v1/bundles/../x", None), ("POST", "/v1/status", {"x": 1}),
                               ("GET", "/v1/parts/sha256:zz", None), ("DELETE", "/v1/revisions", None), ("GET", "/nope", None)]:
        status, doc = call(port, method, path, body)
        assert status >= 400, (method, path, status)
        check("error", doc, f"{method} {path} ({status})")
    server.terminate()
    server.wait(timeout=10)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("server JSON matches schemas/server/: status, report, endpoints, services, revisions, errors")
