#!/usr/bin/env python3
"""The console in a real browser: `meshc serve --console --prometheus URL` with a real
Prometheus scraping five proxies (found through GET /v1/prometheus/targets), traffic that
includes a failing edge (an orders instance that fails every request: its caller's retries
hide it, the called side does not) and a denied one (frontend → payments: 403 from
authorization), a published canary change and a refused commit. Headless Chromium opens each
view and checks what a person would see; screenshots (PNG) of every view go to OUT.

    Tests/Console/console_test.py MESHC MESH_PROXY [OUT]     (OUT: .build/console-test)
"""
import importlib.util
import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
demo = load("demo", "demo/run.py")
console = load("console", "demo/console.py")


class ConsoleTest(demo.Demo):
    def __init__(self, meshc, proxy, out):
        super().__init__(meshc, proxy)
        self.out = out
        self.checks = []
        self.halt = threading.Event()

    def check(self, what, ok, detail=""):
        self.checks.append((what, bool(ok)))
        print(f"   {'✔' if ok else '✘'} {what}{' — ' + detail if detail else ''}", flush=True)

    def serve(self):
        """The demo's server (repository, keys, mesh CA), with the console pointed at the
        Prometheus started next."""
        self.console = True
        self.step2_server()
        self.url = f"https://127.0.0.1:{self.server_port}"

    def traffic(self):
        """Requests the whole time: frontend → orders (one v1 instance fails every try),
        frontend → payments (denied), orders → payments (allowed)."""
        while not self.halt.is_set():
            for port, host, method, path in [(self.instances["frontend"]["outbound"], demo.FRONTEND_HOST, "GET", "/"),
                                             (self.instances["frontend"]["outbound"], "payments.payments:8080", "POST", "/v1/charges"),
                                             (self.instances["orders-v1-a"]["outbound"], "payments.payments:8080", "POST", "/v1/charges"),
                                             # catalog has no instance at all: 503, no healthy upstream.
                                             (self.instances["frontend"]["outbound"], "catalog.shop:9090", "GET", "/")]:
                try:
                    self.request(port, path, method=method, host=host, body=b"{}" if method == "POST" else None, timeout=5)
                except OSError:
                    pass
            time.sleep(0.01)

    def commit(self, edit, message):
        path = os.path.join(self.repo, "policies", "shop", "orders.yaml")
        text = open(path).read()
        open(path, "w").write(edit(text))
        self.git("commit", "-qam", message)
        self.server_request(self.server_port, "/v1/hooks/git", method="POST")
        return self.git("rev-parse", "HEAD").stdout.strip()

    def main(self):
        if not console.chromium_binary() or not console.prometheus_binary():
            print("console test: needs chromium and prometheus (Debian packages; ci/install-deps.sh --test installs them)")
            return 1
        prometheus = None
        try:
            print("== a mesh with its console: meshc serve --console, Prometheus, five proxies, traffic")
            self.serve()
            prometheus = console.Prometheus(self.work, self.logs, self.url, self.trust_bundle, port=self.prometheus_port)
            self.instance("frontend", "web/frontend", "frontend", "v1")
            self.instance("orders-v1-a", "shop/orders-v1", "orders", "v1")
            self.instance("orders-v1-b", "shop/orders-v1", "orders", "v1", fail_ratio=1.0)
            self.instance("orders-v2", "shop/orders-v2", "orders", "v2")
            self.instance("payments", "payments/payments", "payments", "v1")
            self.wait("every proxy SYNCED", lambda: self.fleet_synced(count=5), timeout=60)
            targets = json.loads(self.server_request(self.server_port, "/v1/prometheus/targets")[2])
            self.check("GET /v1/prometheus/targets lists every proxy's admin listener", len(targets) == 5 and
                       all(t["labels"]["__metrics_path__"] == "/stats/prometheus" for t in targets),
                       f"{sorted(t['labels']['instance'] for t in targets)}")
            def endpoints_known():
                text = self.request(self.instances["frontend"]["admin"], "/clusters")[2].decode()
                return text.count("|v1|orders.shop.svc.cluster.local::") >= 2 and "|v2|orders" in text and "payments.payments.svc.cluster.local::" in text
            self.wait("frontend to know every orders and payments instance", endpoints_known, timeout=60)
            load = threading.Thread(target=self.traffic, daemon=True)
            load.start()
            published = self.commit(lambda t: t.replace("weight: 90", "weight: 70").replace("weight: 10", "weight: 30"), "orders canary to 30%")
            self.wait("the canary published", lambda: self.server_json("/v1/status")["commit"] == published, timeout=60)
            refused = self.commit(lambda t: t.replace("subset: v2\n    timeout: 5s", "subset: v3\n    timeout: 5s", 1), "canary testers to v3 (undefined)")
            self.wait("the broken commit refused", lambda: (self.server_json("/v1/status").get("lastFailure") or {}).get("commit") == refused, timeout=60)
            self.wait("Prometheus to scrape all five proxies", lambda: len(prometheus.targets_up()) == 5, timeout=60)
            self.wait("traffic in Prometheus from both reporters", lambda: len(prometheus.query(
                'sum by (reporter) (rate(istio_requests_total{destination_workload!="unknown"}[1m])) > 0')) == 2, timeout=90)
            # Istio's dashboards and Kiali query these labels: they must be filled.
            filled = prometheus.query('sum by (source_workload, source_app, destination_workload, destination_canonical_service) '
                                      '(istio_requests_total{reporter="destination", source_workload="frontend", destination_workload="payments"})')
            self.check("the callee's metrics name the caller (peer metadata)", filled and filled[0]["metric"].get("source_app") == "frontend"
                       and filled[0]["metric"].get("destination_canonical_service") == "payments", str(filled[:1]))

            with console.Chromium(self.work) as browser:
                base = self.url + "/console/"
                browser.open(base + "#graph")
                browser.wait_for("document.body.dataset.rendered === 'graph' && document.querySelectorAll('#graph .node').length > 0", timeout=30)
                # The last minute (what a person watching a live mesh picks), redrawn until the
                # traffic of that minute is all there (rates need two scrapes of each proxy).
                settled = ("(() => { const q = (f, t) => document.querySelector(`.edge[data-from=\"${f}\"][data-to=\"${t}\"]`);"
                           " const d = q('wl:web/frontend', 'svc:payments.payments.svc.cluster.local'), f = q('svc:orders.shop.svc.cluster.local', 'wl:shop/orders-v1'),"
                           " c = q('wl:web/frontend', 'svc:catalog.shop.svc.cluster.local'),"
                           " h = q('wl:web/frontend', 'svc:orders.shop.svc.cluster.local');"
                           " return document.body.dataset.rendered === 'graph' && d && d.dataset.reason.startsWith('403') && f && f.dataset.reason.startsWith('503')"
                           " && c && c.dataset.failing === 'true'"
                           " && h && h.dataset.failing === 'false' && !h.classList.contains('idle'); })()")
                deadline = time.time() + 90
                while not browser.evaluate(settled) and time.time() < deadline:
                    browser.evaluate("(() => { const w = document.getElementById('window'); w.value = '1m'; w.dispatchEvent(new Event('change')); })()")
                    time.sleep(2)
                browser.wait_for("document.body.dataset.rendered === 'graph'", timeout=30)
                shot = browser.screenshot(os.path.join(self.out, "console-graph.png"))
                graph = self.server_request(self.server_port, "/console/api/graph?window=5m")[2]
                open(os.path.join(self.out, "graph.json"), "wb").write(graph)
                nodes = browser.evaluate("[...document.querySelectorAll('#graph .node')].map(n => n.dataset.id)")
                for n in ["wl:web/frontend", "svc:orders.shop.svc.cluster.local", "wl:shop/orders-v1", "wl:shop/orders-v2", "wl:payments/payments"]:
                    self.check(f"graph: node {n}", n in nodes)
                edges = browser.evaluate("[...document.querySelectorAll('#graph .edge')].map(e => ({from: e.dataset.from, to: e.dataset.to, "
                                         "failing: e.dataset.failing === 'true', mtls: e.dataset.mtls === 'true', reason: e.dataset.reason, explanation: e.dataset.explanation, "
                                         "stroke: getComputedStyle(e.querySelector('path')).stroke, text: e.textContent}))")
                by = {(e["from"], e["to"]): e for e in edges}
                denied = by.get(("wl:web/frontend", "svc:payments.payments.svc.cluster.local"), {})
                self.check("graph: frontend → payments is red, denied by authorization",
                           denied.get("failing") and denied.get("stroke") == "rgb(198, 40, 40)" and "403" in denied.get("reason", "")
                           and "authorization" in denied.get("explanation", ""), str(denied))
                failing = by.get(("wl:web/frontend", "svc:catalog.shop.svc.cluster.local"), {})
                self.check("graph: frontend → catalog (no instance) is red with its 503 and flags",
                           failing.get("failing") and failing.get("stroke") == "rgb(198, 40, 40)" and failing.get("reason", "").startswith("503 U"), str(failing))
                hidden = by.get(("svc:orders.shop.svc.cluster.local", "wl:shop/orders-v1"), {})
                self.check("graph: orders → orders-v1 shows the 503s the caller's retries hid",
                           "503" in hidden.get("reason", ""), str(hidden))
                healthy = by.get(("wl:web/frontend", "svc:orders.shop.svc.cluster.local"), {})
                self.check("graph: frontend → orders is healthy, with a rate and a p99", healthy and not healthy.get("failing")
                           and "rps" in healthy.get("text", "") and "p99" in healthy.get("text", ""), str(healthy))
                padlocks = browser.evaluate("document.querySelectorAll('#graph .edge .padlock').length")
                self.check("graph: padlocks on the mutual TLS edges", padlocks >= 3 and healthy.get("mtls"), f"{padlocks} padlocks")
                nosidecar = browser.evaluate("[...document.querySelectorAll('#graph .node.nosidecar')].map(n => n.dataset.id)")
                self.check("graph: a workload without a sidecar is marked", "wl:shop/catalog" in nosidecar, str(nosidecar))
                layers = browser.evaluate("Object.fromEntries([...document.querySelectorAll('#graph .node')].map(n => "
                                          "[n.dataset.id, +n.getAttribute('transform').match(/translate\\(([0-9.]+)/)[1]]))")
                self.check("graph: reads left to right (frontend, orders, orders-v1, payments)",
                           layers["wl:web/frontend"] < layers["svc:orders.shop.svc.cluster.local"] < layers["wl:shop/orders-v1"] < layers["wl:payments/payments"])

                # One namespace: its nodes and their neighbours only.
                browser.evaluate("(() => { const s = document.getElementById('namespace'); s.value = 'payments'; s.dispatchEvent(new Event('change')); })()")
                browser.wait_for("document.body.dataset.rendered === 'graph' && document.getElementById('namespace').value === 'payments'"
                                 " && !document.querySelector('#graph .node[data-id=\"wl:shop/orders-v2\"]')", timeout=30)
                shown = set(browser.evaluate("[...document.querySelectorAll('#graph .node')].map(n => n.dataset.id)"))
                self.check("graph: a namespace picked shows it and its neighbours", {"wl:payments/payments", "svc:payments.payments.svc.cluster.local",
                           "wl:web/frontend", "wl:shop/orders-v1"} <= shown and "svc:orders.shop.svc.cluster.local" not in shown, str(sorted(shown)))
                browser.screenshot(os.path.join(self.out, "console-graph-payments.png"))
                browser.open(base + "#fleet")
                browser.wait_for("document.body.dataset.rendered === 'fleet'")
                browser.screenshot(os.path.join(self.out, "console-fleet.png"))
                rows = browser.evaluate("[...document.querySelectorAll('#fleet-table tr[data-instance]')].map(r => [r.dataset.instance, r.dataset.state, r.querySelector('.commit').textContent])")
                self.check("fleet: every proxy with its state and commit", len(rows) == 5 and all(s == "SYNCED" and c == published[:12] for _, s, c in rows), str(rows))

                browser.open(base + "#history")
                browser.wait_for("document.body.dataset.rendered === 'history'")
                browser.screenshot(os.path.join(self.out, "console-history.png"))
                refusal = browser.evaluate(f"(document.querySelector('li[data-commit=\"{refused}\"]') || {{}}).textContent || ''")
                self.check("history: the refused commit with its finding at file:line", "refused" in refusal and "orders.yaml:" in refusal and "v3" in refusal,
                           refusal[:200])
                change = browser.evaluate(f"(document.querySelector('li[data-commit=\"{published}\"] .diff') || {{}}).textContent || ''")
                self.check("history: the published canary with its diff (70/30)", "70" in change and "30" in change, change[:200])

                browser.open(base + "#workload/shop/orders-v1")
                browser.wait_for("document.body.dataset.rendered === 'workload'")
                browser.screenshot(os.path.join(self.out, "console-workload.png"))
                words = browser.evaluate("document.getElementById('workload-body').textContent")
                self.check("workload: its routes, mTLS and live endpoints in words", "mutual TLS" in words and "orders-v1-a" in words
                           and "payments.payments.svc.cluster.local" in words, words[:160])
                secrets = browser.evaluate("document.documentElement.outerHTML")
                self.check("no secrets on the page", "PRIVATE KEY" not in secrets and "BEGIN CERTIFICATE" not in secrets)
                print(f"   screenshots in {self.out}: console-graph.png, console-fleet.png, console-history.png, console-workload.png")
        except (demo.StepFailed, OSError, RuntimeError, TimeoutError, KeyError, ValueError) as e:
            self.check(f"ran to the end ({type(e).__name__}: {e})", False)
        finally:
            self.halt.set()
            if prometheus:
                prometheus.stop()
            self.stop_all()
        failed = [w for w, ok in self.checks if not ok]
        print(f"console: {len(self.checks) - len(failed)} passed, {len(failed)} failed")
        if failed:
            print(f"logs in {self.logs}")
            return 1
        return 0


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    out = os.path.abspath(sys.argv[3] if len(sys.argv) == 4 else os.path.join(ROOT, ".build", "console-test"))
    sys.exit(ConsoleTest(sys.argv[1], sys.argv[2], out).main())
