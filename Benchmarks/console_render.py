#!/usr/bin/env python3
"""The console at scale: a generated mesh of 200 services (400 workloads), 1,000 proxies
reporting, a Prometheus answering the graph's queries with traffic on every service (a
stand-in serving generated series: this measures the page, not Prometheus), and headless
Chromium opening each view. Prints, per view, the time from the page's script starting to
the view drawn (median and worst of 5 loads), and the graph's size.

    Benchmarks/console.sh            (builds a release meshc, then runs this)
    Benchmarks/console_render.py MESHC [SERVICES] [PROXIES]
"""
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import importlib.util
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("console", os.path.join(ROOT, "demo", "console.py"))
console = importlib.util.module_from_spec(spec)
spec.loader.exec_module(console)

MESHC = os.path.abspath(sys.argv[1])
SERVICES = int(sys.argv[2]) if len(sys.argv) > 2 else 200
PROXIES = int(sys.argv[3]) if len(sys.argv) > 3 else 1000


def http(port, path, method="GET", body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, r.read()


class FakePrometheus(BaseHTTPRequestHandler):
    """Answers the console's four queries with a call on every service: each service's v1
    called by another service's v1 (a fixed pattern), 1 % failing, all mutual TLS."""
    services = []

    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("query", [""])[0]
        result = []
        for i, (name, ns) in enumerate(self.services):
            caller_name, caller_ns = self.services[(i * 7 + 3) % len(self.services)]
            host = f"{name}.{ns}.svc.cluster.local"
            base = {"source_workload": f"{caller_name}-v1", "source_workload_namespace": caller_ns, "destination_service": host,
                    "destination_workload": f"{name}-v1", "destination_workload_namespace": ns}
            if "histogram_quantile" in q:
                result.append({"metric": {k: base[k] for k in ("source_workload", "source_workload_namespace", "destination_service")},
                               "value": [time.time(), "12.5"]})
            elif "istio_tcp" in q:
                continue
            else:
                for code, rate in (("200", "9.9"), ("503", "0.1")):
                    m = dict(base, response_code=code, response_flags="-" if code == "200" else "UF")
                    if 'reporter="destination"' in q:
                        m["connection_security_policy"] = "mutual_tls"
                    result.append({"metric": m, "value": [time.time(), rate]})
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def main():
    work = tempfile.mkdtemp(prefix="meshc-console-bench-")
    procs = []
    try:
        repo = os.path.join(work, "repo")
        subprocess.run([sys.executable, os.path.join(ROOT, "Benchmarks", "generate.py"), str(SERVICES * 6 + 20), repo], check=True, capture_output=True)
        env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@e"}
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "mesh"]):
            subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)
        subprocess.run([MESHC, "keygen", "--out", f"{work}/keys"], check=True, capture_output=True)
        prom = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
        threading.Thread(target=prom.serve_forever, daemon=True).start()
        port = console.free_port()
        procs.append(subprocess.Popen([MESHC, "serve", "--repo", repo, "--key", f"{work}/keys/signing.key", "--listen", f"127.0.0.1:{port}",
                                       "--data-dir", f"{work}/serve", "--plaintext", "--poll-interval", "3600s", "--report-interval", "60s",
                                       "--console", "--prometheus", f"http://127.0.0.1:{prom.server_address[1]}"],
                                      stdout=subprocess.DEVNULL, stderr=open(f"{work}/serve.log", "w")))
        for _ in range(600):
            try:
                if http(port, "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        services = json.loads(http(port, "/v1/services")[1])["services"]
        FakePrometheus.services = [(s["name"], s["namespace"]) for s in services][:SERVICES]
        version = json.loads(http(port, "/v1/revisions")[1])["serving"]["version"]
        workloads = sorted({f"{ns}/{name}-{v}" for name, ns in FakePrometheus.services for v in ("v1", "v2")})
        for i in range(PROXIES):
            w = workloads[i % len(workloads)]
            body = json.dumps({"workload": w, "instance": f"p{i}", "address": f"10.1.{i >> 8}.{i & 255}:15006", "admin": f"10.1.{i >> 8}.{i & 255}:15000",
                               "state": "applied", "version": version}).encode()
            http(port, "/v1/status", method="POST", body=body)
        graph = json.loads(http(port, "/console/api/graph?window=5m")[1])["graph"]
        print(f"{len(FakePrometheus.services)} services, {len(workloads)} workloads, {PROXIES} proxies: "
              f"the graph has {len(graph['nodes'])} nodes and {len(graph['edges'])} edges")
        with console.Chromium(work, width=1600, height=1000) as browser:
            for view, ready in [("graph", "document.querySelectorAll('#graph .node').length"), ("fleet", "document.querySelectorAll('#fleet-table tr').length"),
                                ("history", "document.querySelectorAll('#history-list li').length")]:
                times = []
                for _ in range(5):
                    browser.open("about:blank")
                    browser.open(f"http://127.0.0.1:{port}/console/#{view}")
                    browser.wait_for(f"document.body && document.body.dataset.rendered === '{view}' && {ready}", timeout=60)
                    times.append(int(browser.evaluate("document.body.dataset.renderMs")))
                    items = browser.evaluate(ready)
                print(f"  {view:8} median {statistics.median(times)} ms, worst {max(times)} ms (5 loads; {items} elements drawn)")
            browser.open(f"http://127.0.0.1:{port}/console/#graph")
            browser.wait_for("document.body.dataset.rendered === 'graph'", timeout=60)
            out = os.path.join(ROOT, ".build", "console-bench-graph.png")
            browser.screenshot(out)
            print(f"  screenshot: {os.path.relpath(out, ROOT)}")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
