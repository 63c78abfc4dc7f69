#!/usr/bin/env python3
"""`make demo`: the whole mesh working, on 127.0.0.1, from the example policy in policies/.

    demo/run.py MESHC MESH_PROXY [--console]

1. lint policies/ (clean) and policies/broken (what meshc catches);
2. commit policies/ to a scratch git repository; start `meshc serve` with a signing key and
   a mesh CA;
3. start the demo apps (demo/app.py) with a mesh-proxy beside each: frontend, orders v1 (two
   instances, one failing), orders v2, payments; certificates from the mesh CA;
4. send traffic through frontend's proxy: the 90/10 split, `x-canary: true` always reaching
   v2, retries absorbing the failing instance, mTLS to payments and its AuthorizationPolicy
   refusing frontend;
5. commit a canary shift to 50/50: `meshc diff` of it, how long until every proxy applied it,
   the new split;
6. `meshc proxy-status` and Istio-named metrics;
7. commit a broken change: the server refuses it, traffic unaffected;
8. with --console (what `make demo` passes), when Debian's prometheus and chromium are there:
   Prometheus beside the mesh, the server's console, and its graph saved from headless
   Chromium in demo/out/console-graph.png.

Ends with a summary table; exits 1 if any step did not behave. Everything it starts is
stopped, and its scratch directory removed (kept, with the logs, when a step failed).
"""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRONTEND_HOST = "orders.shop:8080"


class StepFailed(Exception):
    pass


class Demo:
    def __init__(self, meshc, proxy):
        self.meshc = os.path.abspath(meshc)
        self.proxy = os.path.abspath(proxy)
        self.work = tempfile.mkdtemp(prefix="meshc-demo-")
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs)
        self.procs = []
        self.results = []
        self.instances = {}
        # Proxies report every second (the server's lease is three of its 2 s intervals).
        self.proxy_args = ["--report-interval", "1"]
        self.server_scheme = "https"
        self.access_logs = False
        self.console = False
        self.prometheus = None

    # -- plumbing ---------------------------------------------------------------------

    @staticmethod
    def free_port():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def start(self, name, argv):
        log = open(os.path.join(self.logs, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append((name, p))
        return p

    def stop_all(self):
        for _, p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.time() + 10
        for _, p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()

    def run(self, argv, cwd=None, check=True, quiet=False):
        r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise StepFailed(f"{' '.join(argv[:3])} exited {r.returncode}: {(r.stderr or r.stdout).strip()[:400]}")
        return r

    def git(self, *args):
        return self.run(["git", "-C", self.repo, "-c", "user.email=demo@meshc", "-c", "user.name=demo",
                         "-c", "commit.gpgsign=false", *args])

    @staticmethod
    def request(port, path="/", method="GET", host=None, headers=None, body=None, timeout=10, tls=None):
        if tls:
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls)
        else:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        h = dict(headers or {})
        if host:
            h["Host"] = host
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def server_request(self, port, path, **kwargs):
        """A request to meshc serve: HTTPS, the server verified against the mesh CA's roots."""
        return self.request(port, path, tls=self.server_tls, **kwargs)

    def server_json(self, path):
        status, _, body = self.server_request(self.server_port, path)
        if status != 200:
            raise StepFailed(f"GET {path}: {status}")
        return json.loads(body)

    def wait(self, what, check, timeout=60, interval=0.1):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                result = check()
                if result:
                    return result
            except (OSError, http.client.HTTPException, ValueError, StepFailed) as e:
                last = e
            time.sleep(interval)
        raise StepFailed(f"timed out waiting for {what}" + (f" (last: {last})" if last else ""))

    def record(self, step, ok, detail):
        self.results.append((step, ok, detail))
        print(f"   {'✔' if ok else '✘'} {detail}")
        if not ok:
            raise StepFailed(detail)

    def heading(self, text):
        print(f"\n== {text}", flush=True)

    # -- the mesh ---------------------------------------------------------------------

    def fleet_synced(self, version=None, count=None):
        s = self.server_json("/v1/status")
        proxies = s["proxies"]
        want = version or s.get("version")
        if count and len(proxies) < count:
            return None
        if proxies and all(p["state"] == "SYNCED" and p.get("appliedVersion") == want for p in proxies):
            return s
        return None

    def trust_roots(self):
        """The mesh CA's trust bundle: proxies seed theirs from it, clients verify the server."""
        self.trust_bundle = os.path.join(self.ca, "trust-bundle.pem")
        self.server_tls = ssl.create_default_context(cafile=self.trust_bundle)

    def instance(self, name, workload, service_account, version, fail_ratio=0.0):
        ports = {k: self.free_port() for k in ("app", "inbound", "outbound", "admin")}
        # A bootstrap token for the workload: the proxy makes its own key and gets its
        # certificate from the server's CA (POST /v1/certs), then renews it at half-life.
        certs = os.path.join(self.work, "certs", name)
        os.makedirs(certs, exist_ok=True)
        token = self.run([self.meshc, "ca", "token", "--ca", self.ca, "--workload", workload]).stdout.strip()
        token_file = os.path.join(certs, "token")
        open(token_file, "w").write(token + "\n")
        self.start(name + "-app", [sys.executable, os.path.join(ROOT, "demo", "app.py"), "--workload", name,
                                   "--version", version, "--listen", f"127.0.0.1:{ports['app']}",
                                   "--fail-ratio", str(fail_ratio)])
        self.start(name + "-proxy", [self.proxy, "--workload", workload, "--server", f"{self.server_scheme}://127.0.0.1:{self.server_port}",
                                     "--ca-roots", self.trust_bundle, "--trust", os.path.join(self.keys, "trust.json"),
                                     "--state-dir", os.path.join(self.work, "state", name),
                                     "--outbound", f"127.0.0.1:{ports['outbound']}", "--inbound", f"127.0.0.1:{ports['inbound']}",
                                     "--app", f"127.0.0.1:{ports['app']}", "--admin", f"127.0.0.1:{ports['admin']}",
                                     "--instance", name, "--cert-dir", certs, "--ca-token", token_file,
                                     "--tcp-listen", "none", *self.proxy_args,
                                     *(["--access-log", os.path.join(self.logs, name + "-access.log")] if self.access_logs else [])])
        self.instances[name] = ports
        return ports

    def through(self, name, n, host=FRONTEND_HOST, headers=None, path="/"):
        """n requests through `name`'s outbound listener: (versions seen, statuses)."""
        versions, statuses = {}, {}
        port = self.instances[name]["outbound"]
        for _ in range(n):
            status, _, body = self.request(port, path, host=host, headers=headers)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                v = json.loads(body)["version"]
                versions[v] = versions.get(v, 0) + 1
        return versions, statuses

    def metric(self, name, prefix):
        _, _, body = self.request(self.instances[name]["admin"], "/stats/prometheus")
        total = 0.0
        lines = []
        for line in body.decode().splitlines():
            if line.startswith(prefix):
                lines.append(line)
                total += float(line.rsplit(" ", 1)[1])
        return total, lines

    # -- the steps --------------------------------------------------------------------

    def step1_lint(self):
        self.heading("1. meshc lint policies   (the example mesh: clean)")
        r = self.run([self.meshc, "lint", os.path.join(ROOT, "policies")], check=False)
        print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip())
        self.record("lint policies/", r.returncode == 0, "policies/ is clean (exit 0)")
        self.heading("1. meshc lint policies/broken   (mistakes people really make)")
        r = self.run([self.meshc, "lint", "--format", "json", os.path.join(ROOT, "policies", "broken")], check=False)
        found = json.loads(r.stdout)["diagnostics"]
        errors = [d for d in found if d["severity"] == "error"]
        for d in errors[:8]:
            print(f"   {d['file']}:{d['line']}  {d['code']}  {d['message'][:100]}")
        mtls = [d for d in errors if "mTLS" in d["message"] or "STRICT" in d["message"]]
        self.record("lint policies/broken", r.returncode == 1 and len(mtls) > 0,
                    f"policies/broken: {len(errors)} errors (exit {r.returncode}), {len(mtls)} about mTLS, e.g. {mtls[0]['code'] if mtls else '-'}")

    def step2_server(self):
        self.heading("2. a git repository of policies/, meshc serve with a signing key and a mesh CA")
        self.repo = os.path.join(self.work, "repo")
        os.makedirs(self.repo)
        shutil.copytree(os.path.join(ROOT, "policies"), os.path.join(self.repo, "policies"),
                        ignore=shutil.ignore_patterns("broken"))
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.git("commit", "-qm", "the example mesh")
        self.keys = os.path.join(self.work, "keys")
        self.ca = os.path.join(self.work, "ca")
        self.run([self.meshc, "keygen", "--out", self.keys])
        self.run([self.meshc, "ca", "init", "--out", self.ca])
        self.trust_roots()
        self.server_port = self.free_port()
        console_flags = []
        if self.console:
            self.prometheus_port = self.free_port()
            console_flags = ["--console", "--prometheus", f"http://127.0.0.1:{self.prometheus_port}"]
        self.start("meshc-serve", [self.meshc, "serve", "--repo", self.repo, "--dir", "policies",
                                   "--key", os.path.join(self.keys, "signing.key"), "--listen", f"127.0.0.1:{self.server_port}",
                                   "--data-dir", os.path.join(self.work, "serve"), "--poll-interval", "60s", "--ca", self.ca,
                                   "--report-interval", "2s", *console_flags])
        status = self.wait("the server's first revision", lambda: self.server_request(self.server_port, "/readyz")[0] == 200, timeout=60)
        revision = self.server_json("/v1/status")
        self.record("serve", bool(status), f"meshc serve on https://127.0.0.1:{self.server_port} published version {revision.get('version')}")

    def step3_apps(self):
        self.heading("3. demo apps with a mesh-proxy each (certificates from the mesh CA)")
        self.instance("frontend", "web/frontend", "frontend", "v1")
        self.instance("orders-v1-a", "shop/orders-v1", "orders", "v1")
        self.instance("orders-v1-b", "shop/orders-v1", "orders", "v1", fail_ratio=1.0)
        self.instance("orders-v2", "shop/orders-v2", "orders", "v2")
        self.instance("payments", "payments/payments", "payments", "v1")
        started = time.time()
        self.wait("every proxy SYNCED", lambda: self.fleet_synced(count=5), timeout=60)

        def endpoints_known():
            _, _, body = self.request(self.instances["frontend"]["admin"], "/clusters")
            text = body.decode()
            return "|v1|orders" in text and "|v2|orders" in text and text.count("|v1|orders.shop.svc.cluster.local::") >= 2
        self.wait("frontend to know the orders instances", endpoints_known, timeout=60)
        metrics = self.server_request(self.server_port, "/metrics")[2].decode()
        issued = next((int(float(l.split()[-1])) for l in metrics.splitlines() if l.startswith("meshc_certificates_issued_total")), 0)
        self.record("proxies", issued >= 5, f"5 proxies SYNCED, endpoints known, in {time.time() - started:.1f} s; "
                                            f"{issued} certificates issued to them by the server's CA for their own keys "
                                            f"(orders-v1-b answers 503 to everything)")

    def step4_traffic(self):
        self.heading("4. traffic through frontend's proxy")
        versions, split = self.through("frontend", 300)
        share = versions.get("v2", 0) / max(1, sum(versions.values())) * 100
        ok = split.get(200, 0) == 300 and 3 <= share <= 20
        self.record("90/10 split", ok, f"300 requests: {split.get(200, 0)} × 200, v1 {versions.get('v1', 0)} / v2 {versions.get('v2', 0)} "
                                       f"= {100 - share:.0f}/{share:.0f} (configured 90/10)")
        canary, _ = self.through("frontend", 30, headers={"x-canary": "true"})
        self.record("x-canary", canary == {"v2": 30}, f"30 requests with x-canary: true: {canary}")
        retries, _ = self.metric("frontend", "meshc_proxy_retries_total")
        ejected = self.request(self.instances["frontend"]["admin"], "/clusters")[2].decode().count("failed_outlier_check")
        self.record("retries", split.get(200, 0) == 300 and retries > 0,
                    f"orders-v1-b fails every request; callers saw no failure: {retries:.0f} retries absorbed it, "
                    f"{ejected} endpoint ejected by outlier detection")
        s1, _, _ = self.request(self.instances["orders-v1-a"]["outbound"], "/v1/charges", method="POST", host="payments.payments:8080", body=b"{}")
        s2, _, b2 = self.request(self.instances["frontend"]["outbound"], "/v1/charges", method="POST", host="payments.payments:8080", body=b"{}")
        self.record("authorization", s1 == 200 and s2 == 403,
                    f"orders → payments over mTLS: {s1}; frontend → payments: {s2} {b2.decode().strip()!r} (AuthorizationPolicy payments-callers)")

    def step5_canary(self):
        self.heading("5. a pull request: the canary to 50/50")
        path = os.path.join(self.repo, "policies", "shop", "orders.yaml")
        text = open(path).read()
        open(path, "w").write(text.replace("weight: 90", "weight: 50").replace("weight: 10", "weight: 50"))
        self.git("commit", "-qam", "orders canary to 50%")
        before = self.server_json("/v1/status")["version"]
        diff = self.run([self.meshc, "diff", "HEAD~1", "HEAD", "--fail-on", "never"], cwd=os.path.join(self.repo, "policies"))
        for line in diff.stdout.strip().splitlines()[:14]:
            print("   " + line)
        started = time.time()
        self.server_request(self.server_port, "/v1/hooks/git", method="POST")
        status = self.wait("every proxy on the new version",
                           lambda: (lambda s: s if s and s["version"] != before else None)(self.fleet_synced()), timeout=60, interval=0.005)
        elapsed = (time.time() - started) * 1000
        self.propagation_ms = elapsed
        self.record("propagation", True, f"commit → every proxy applied version {status['version']}: {elapsed:.0f} ms")
        versions, statuses = self.through("frontend", 300)
        share = versions.get("v2", 0) / max(1, sum(versions.values())) * 100
        self.record("50/50 split", statuses.get(200, 0) == 300 and 38 <= share <= 62,
                    f"300 requests: v1 {versions.get('v1', 0)} / v2 {versions.get('v2', 0)} = {100 - share:.0f}/{share:.0f} (configured 50/50)")

    def step6_status(self):
        self.heading("6. meshc proxy-status, and Istio-named metrics")
        r = self.run([self.meshc, "proxy-status", "--server", f"https://127.0.0.1:{self.server_port}", "--ca-roots", self.trust_bundle], check=False)
        print("\n".join("   " + l for l in r.stdout.strip().splitlines()))
        _, lines = self.metric("payments", "istio_requests_total")
        mutual = [l for l in lines if 'connection_security_policy="mutual_tls"' in l]
        for l in mutual[:3]:
            print("   " + l)
        self.record("proxy-status", r.returncode == 0 and len(mutual) > 0,
                    f"proxy-status exit {r.returncode} (all SYNCED); payments reports {len(mutual)} mTLS series by source_principal")

    def step7_broken(self):
        self.heading("7. a broken commit: the server refuses it, traffic goes on")
        path = os.path.join(self.repo, "policies", "shop", "orders.yaml")
        text = open(path).read()
        open(path, "w").write(text.replace("subset: v2\n    timeout: 5s", "subset: v3\n    timeout: 5s", 1))
        self.git("commit", "-qam", "canary testers to v3 (which does not exist)")
        head = self.git("rev-parse", "HEAD").stdout.strip()
        before = self.server_json("/v1/status")["version"]
        self.server_request(self.server_port, "/v1/hooks/git", method="POST")
        failure = self.wait("the server to refuse the commit",
                            lambda: (self.server_json("/v1/status").get("lastFailure") or {}).get("commit", "").startswith(head[:12]) and
                            self.server_json("/v1/status")["lastFailure"], timeout=60)
        print(f"   refused {head[:12]} at step {failure.get('failedStep')}: {(failure.get('reason') or '').splitlines()[0][:150]}")
        versions, statuses = self.through("frontend", 100)
        canary, _ = self.through("frontend", 10, headers={"x-canary": "true"})
        after = self.server_json("/v1/status")["version"]
        self.record("broken commit", after == before and statuses.get(200, 0) == 100 and canary == {"v2": 10},
                    f"version still {after}; 100 requests: {statuses.get(200, 0)} × 200 (v1 {versions.get('v1', 0)} / v2 {versions.get('v2', 0)}); canary still v2")

    def step8_console(self):
        self.heading("8. the console: Prometheus beside the mesh, the graph in headless Chromium")
        import importlib.util
        spec = importlib.util.spec_from_file_location("console", os.path.join(ROOT, "demo", "console.py"))
        console = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(console)
        self.prometheus = console.Prometheus(self.work, self.logs, f"https://127.0.0.1:{self.server_port}", self.trust_bundle, port=self.prometheus_port)
        self.wait("Prometheus to scrape every proxy", lambda: len(self.prometheus.targets_up()) == 5, timeout=60)
        for _ in range(3):  # traffic Prometheus sees (two scrapes make a rate)
            self.through("frontend", 60)
            self.request(self.instances["frontend"]["outbound"], "/v1/charges", method="POST", host="payments.payments:8080", body=b"{}")
            time.sleep(1.2)
        url = f"https://127.0.0.1:{self.server_port}/console/"
        os.makedirs(os.path.join(ROOT, "demo", "out"), exist_ok=True)
        shot = os.path.join(ROOT, "demo", "out", "console-graph.png")
        with console.Chromium(self.work) as browser:
            browser.open(url + "#graph")
            browser.wait_for("document.body.dataset.rendered === 'graph' && document.querySelectorAll('#graph .edge:not(.idle)').length > 0", timeout=60)
            browser.screenshot(shot)
        self.record("console", os.path.getsize(shot) > 10_000, f"the console at {url} (while the demo runs); its graph: {os.path.relpath(shot, ROOT)}")

    def main(self):
        steps = [self.step1_lint, self.step2_server, self.step3_apps, self.step4_traffic, self.step5_canary,
                 self.step6_status, self.step7_broken]
        if self.console:
            steps.append(self.step8_console)
        failed = False
        try:
            for step in steps:
                step()
        except (StepFailed, OSError, http.client.HTTPException, subprocess.TimeoutExpired, KeyError, ValueError) as e:
            failed = True
            if not self.results or self.results[-1][1]:
                self.results.append((getattr(step, "__name__", "?"), False, str(e)))
                print(f"   ✘ {e}")
        finally:
            if self.prometheus:
                self.prometheus.stop()
            self.stop_all()
        print("\n== summary")
        width = max(len(s) for s, _, _ in self.results)
        for step, ok, detail in self.results:
            print(f"   {step.ljust(width)}  {'ok  ' if ok else 'FAIL'}  {detail}")
        if failed:
            print(f"\nthe demo failed; logs are in {self.logs}")
            return 1
        shutil.rmtree(self.work, ignore_errors=True)
        print("\nthe demo behaved: every step as expected")
        return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--console"]
    if len(args) != 2:
        sys.exit(__doc__)
    demo = Demo(args[0], args[1])
    if "--console" in sys.argv:
        spec_ok = shutil.which("prometheus") and (shutil.which("chromium") or shutil.which("chromium-browser"))
        demo.console = bool(spec_ok)
        if not spec_ok:
            print("make demo: the console step needs Debian's prometheus and chromium (as root, ci/install-deps.sh --test installs them); skipped")
    sys.exit(demo.main())
