#!/usr/bin/env python3
"""The reliability suite: the mesh of `make demo` on 127.0.0.1 (two `meshc serve` replicas
behind nginx as a TCP balancer, speaking HTTPS, taking status reports over mTLS and sharing
the registry through a three-member etcd cluster; proxies with mTLS), with load running
through it the whole time, while things go wrong:

  replicas       nginx in front of two replicas: identical bytes from either, one killed
  etcd           one etcd member killed (quorum kept), a replica killed, both replicas
                 restarted (endpoints served at once), two members killed (no quorum:
                 read-only, degraded, stale) and back, a proxy killed (gone from both
                 replicas within its lease)
  control-plane  every server killed for a while, then back
  kill-publish   kill -9 of the server in the middle of publishing, five times
  rotation       the mesh CA's root rotated (staged, in every proxy's bundle, activated) with
                 nothing restarted; a new instance on the new root serves old-root peers
  hostile        a hostile server feeding a proxy tampered, unsigned, unknown-key, expired,
                 rolled-back and wrong-workload bundles and a part that is not its digest
  reloads        100 config reloads of a proxy under load
  garbage        random and malformed bytes and requests to the server's API and every proxy
                 listener (outbound, inbound with its TLS detection, admin): all stay up

Prints what was tried, how many requests went through meanwhile, and what was lost (must be
nothing); exits 1 otherwise. Loopback only; bounded in time.

    ci/reliability.py MESHC MESH_PROXY
"""
import base64
import hashlib
import re
import http.server
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("demo", os.path.join(ROOT, "demo", "run.py"))
demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo)
StepFailed = demo.StepFailed


class Load(threading.Thread):
    """Requests through one proxy's outbound listener until stopped; counts what failed."""

    def __init__(self, port, host=demo.FRONTEND_HOST):
        super().__init__(daemon=True)
        self.port, self.host = port, host
        self.ok = 0
        self.failed = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                status, headers, _ = demo.Demo.request(self.port, "/", host=self.host, timeout=10)
                if status == 200:
                    self.ok += 1
                else:
                    self.failed.append(f"{status} {headers.get('x-mesh-response-flags', '')}")
            except Exception as e:  # noqa: BLE001 — any failure is a lost request
                self.failed.append(repr(e))
            time.sleep(0.002)

    def stop(self):
        self.halt.set()
        self.join(timeout=15)
        return self.ok, self.failed


class Suite(demo.Demo):
    def __init__(self, meshc, proxy):
        super().__init__(meshc, proxy)
        self.summary = []
        self.servers = {}
        self.proxy_args = ["--report-interval", "1", "--trust-refresh", "1"]
        self.access_logs = True  # a lost request can be traced to its upstream

    # -- the control plane: two replicas behind nginx ---------------------------------

    def etcd_cluster(self):
        """Three etcd members on loopback, each with its own data directory."""
        self.etcd = [{"name": f"etcd{i}", "client": self.free_port(), "peer": self.free_port()} for i in range(3)]
        for i in range(3):
            self.etcd_start(i)
        self.wait("etcd to have quorum", lambda: self.etcd_health() == 3, timeout=60)

    def etcd_start(self, i):
        m = self.etcd[i]
        cluster = ",".join(f"{x['name']}=http://127.0.0.1:{x['peer']}" for x in self.etcd)
        etcd = shutil.which("etcd") or "/usr/bin/etcd"
        m["process"] = self.start(m["name"], [
            etcd, "--name", m["name"], "--data-dir", os.path.join(self.work, m["name"]),
            "--listen-client-urls", f"http://127.0.0.1:{m['client']}", "--advertise-client-urls", f"http://127.0.0.1:{m['client']}",
            "--listen-peer-urls", f"http://127.0.0.1:{m['peer']}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{m['peer']}",
            "--initial-cluster", cluster, "--initial-cluster-token", "meshc-reliability", "--initial-cluster-state", "new",
            "--heartbeat-interval", "50", "--election-timeout", "500"])

    def etcd_kill(self, i):
        p = self.etcd[i]["process"]
        p.send_signal(signal.SIGKILL)
        p.wait()

    def etcd_health(self):
        """How many members answer a linearizable read (a member without quorum does not)."""
        n = 0
        for m in self.etcd:
            try:
                status, _, _ = self.request(m["client"], "/v3/kv/range", method="POST", body=b'{"key":"L2hlYWx0aA=="}', timeout=2)
                n += status == 200
            except OSError:
                pass
        return n

    @property
    def store_url(self):
        return "etcd://" + ",".join(f"127.0.0.1:{m['client']}" for m in self.etcd)

    def serve(self, name):
        port = self.servers[name]["port"]
        # Both replicas share the registry through etcd: each knows every instance, however
        # nginx spreads the reports.
        p = self.start(name, [self.meshc, "serve", "--repo", self.repo, "--dir", "policies",
                              "--key", os.path.join(self.keys, "signing.key"), "--listen", f"127.0.0.1:{port}",
                              "--data-dir", os.path.join(self.work, name), "--poll-interval", "60s",
                              "--report-interval", "2s", "--ca", self.ca, "--store", self.store_url])
        self.servers[name]["process"] = p
        self.wait(f"{name} ready", lambda: self.server_request(port, "/readyz")[0] == 200, timeout=60)

    def kill(self, name):
        p = self.servers[name]["process"]
        p.send_signal(signal.SIGKILL)
        p.wait()

    def nginx(self):
        port = self.free_port()
        conf = os.path.join(self.work, "nginx.conf")
        # max_fails=0: a replica is never marked down (one restarting must not take the
        # other with it); a refused connection still moves the request to the next.
        upstreams = "\n".join(f"    server 127.0.0.1:{s['port']} max_fails=0;" for s in self.servers.values())
        # A TCP balancer (the stream module): TLS passes through to the replicas, so a proxy's
        # mTLS status report reaches the replica with its own client certificate.
        open(conf, "w").write(f"""load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
pid {self.work}/nginx.pid;
error_log {self.logs}/nginx-error.log;
events {{ worker_connections 1024; }}
stream {{
  upstream meshc {{
{upstreams}
  }}
  server {{
    listen 127.0.0.1:{port};
    proxy_pass meshc;
    proxy_timeout 150s;
    proxy_connect_timeout 2s;
    # A refused connection never reached a replica: try the other.
    proxy_next_upstream on;
    proxy_next_upstream_tries 2;
  }}
}}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.start("nginx", [nginx, "-c", conf, "-p", self.work])
        self.wait("nginx", lambda: self.server_request(port, "/healthz")[0] == 200, timeout=20)
        return port

    def instance(self, name, workload, service_account, version, fail_ratio=0.0, server=None, scheme="https"):
        saved = self.server_port
        self.server_port = server or self.lb_port
        self.server_scheme = scheme
        try:
            ports = super().instance(name, workload, service_account, version, fail_ratio)
        finally:
            self.server_port = saved
            self.server_scheme = "https"
        return ports

    def applied(self, ports):
        """The config version a proxy runs (None before it has one)."""
        return json.loads(self.request(ports["admin"], "/config_dump")[2]).get("version")

    def fleet(self, server):
        status, _, body = self.server_request(self.servers[server]["port"], "/v1/status")
        return json.loads(body) if status == 200 else None

    def settled(self, server, count):
        s = self.fleet(server)
        if not s or len(s["proxies"]) < count:
            return None
        return s if all(p["state"] == "SYNCED" for p in s["proxies"]) else None

    def setup(self):
        print("== setup: a repository, a three-member etcd cluster, two meshc serve replicas behind nginx, five proxies with mTLS")
        self.step2_server_repo()
        self.etcd_cluster()
        self.servers = {name: {"port": self.free_port()} for name in ("serve-a", "serve-b")}
        self.serve("serve-a")
        self.serve("serve-b")
        self.server_port = self.servers["serve-a"]["port"]
        self.lb_port = self.nginx()
        self.instance("frontend", "web/frontend", "frontend", "v1")
        self.instance("orders-v1-a", "shop/orders-v1", "orders", "v1")
        self.instance("orders-v1-b", "shop/orders-v1", "orders", "v1")
        self.instance("orders-v2", "shop/orders-v2", "orders", "v2")
        self.instance("payments", "payments/payments", "payments", "v1")
        self.wait("both replicas to see five SYNCED proxies",
                  lambda: self.settled("serve-a", 5) and self.settled("serve-b", 5), timeout=90)

        def endpoints():
            text = self.request(self.instances["frontend"]["admin"], "/clusters")[2].decode()
            return text.count("|v1|orders.shop.svc.cluster.local::") >= 2 and "|v2|orders" in text
        self.wait("frontend to know every orders instance", endpoints, timeout=60)

    def step2_server_repo(self):
        self.repo = os.path.join(self.work, "repo")
        os.makedirs(self.repo)
        shutil.copytree(os.path.join(ROOT, "policies"), os.path.join(self.repo, "policies"), ignore=shutil.ignore_patterns("broken"))
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.git("commit", "-qm", "the example mesh")
        self.keys = os.path.join(self.work, "keys")
        self.ca = os.path.join(self.work, "ca")
        self.run([self.meshc, "keygen", "--out", self.keys])
        self.run([self.meshc, "ca", "init", "--out", self.ca])
        self.trust_roots()

    def shift(self, weight):
        path = os.path.join(self.repo, "policies", "shop", "orders.yaml")
        text = open(path).read()
        text = re.sub(r"subset: v1\n      weight: \d+", f"subset: v1\n      weight: {100 - weight}", text)
        text = re.sub(r"subset: v2\n      weight: \d+", f"subset: v2\n      weight: {weight}", text)
        open(path, "w").write(text)
        self.git("commit", "-qam", f"canary at {weight}%")

    def sync(self, *servers):
        for name in servers:
            self.server_request(self.servers[name]["port"], "/v1/hooks/git", method="POST")

    def served(self, name):
        return self.fleet(name)["version"]

    def record_scenario(self, name, tried, load, extra_ok=True, detail=""):
        ok, failed = load.stop() if load.is_alive() else (load.ok, load.failed)
        good = extra_ok and not failed
        self.summary.append((name, tried, ok, len(failed), good, detail if good else f"{detail}; lost: {failed[:3]}"))
        print(f"   {'✔' if good else '✘'} {name}: {tried}; {ok} requests through, {len(failed)} lost {detail}")
        if not good:
            raise StepFailed(f"{name}: {failed[:3]} {detail}")

    # -- the scenarios ----------------------------------------------------------------

    def replicas(self):
        print("== replicas: identical bytes from either; one killed")
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        same = []
        for key in ["web/frontend", "shop/orders-v1", "payments/payments"]:
            a = self.server_request(self.servers["serve-a"]["port"], f"/v1/bundles/{key}")
            b = self.server_request(self.servers["serve-b"]["port"], f"/v1/bundles/{key}")
            same.append(a[2] == b[2] and a[1].get("etag") == b[1].get("etag"))
        self.kill("serve-b")
        before = self.served("serve-a")
        self.shift(30)
        self.sync("serve-a")
        version = self.wait("the change through nginx with serve-b dead",
                            lambda: (lambda s: s if s and s["version"] > before and all(p.get("appliedVersion") == s["version"] for p in s["proxies"]) else None)(self.settled("serve-a", 5)), timeout=60)
        time.sleep(1)
        self.record_scenario("replicas", "3 bundles compared across replicas, serve-b killed, a commit published",
                             load, extra_ok=all(same), detail=f"(identical bytes: {all(same)}; version {version['version']} reached every proxy)")
        self.serve("serve-b")
        self.sync("serve-b")

    def readyz(self, name):
        status, _, body = self.server_request(self.servers[name]["port"], "/readyz", timeout=5)
        return json.loads(body) if status == 200 else {"status": f"HTTP {status}"}

    def fleet_view(self, name):
        """What proxy-status shows, without the times: identical at every replica."""
        s = self.fleet(name)
        return sorted((p["workload"], p["instance"], p["state"], p.get("appliedVersion")) for p in s["proxies"]) if s else None

    def endpoints_of(self, name, key="web/frontend"):
        status, headers, body = self.server_request(self.servers[name]["port"], f"/v1/endpoints/{key}", timeout=5)
        if status != 200:
            return status, headers, set()
        doc = json.loads(body)
        return status, headers, {e["instance"] for c in doc["clusters"].values() for e in c}

    def frontend_knows_orders(self):
        text = self.request(self.instances["frontend"]["admin"], "/clusters")[2].decode()
        return text.count("|v1|orders.shop.svc.cluster.local::") >= 2 and "|v2|orders" in text

    def etcd_failures(self):
        print("== etcd: a member killed, a replica killed, both restarted, quorum lost and back, a proxy killed")
        every = {"frontend", "orders-v1-a", "orders-v1-b", "orders-v2", "payments"}

        # 1. One member of three killed: quorum kept, nothing changes.
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        before = self.fleet_view("serve-a")
        self.etcd_kill(2)
        time.sleep(3)  # a few report rounds through the two members left
        ok = all(self.readyz(n)["status"] == "ready" for n in self.servers) and self.fleet_view("serve-b") == before
        ok = ok and self.endpoints_of("serve-a")[2] >= {"orders-v1-a", "orders-v1-b", "orders-v2"}
        self.record_scenario("etcd-member", "one etcd member of three killed", load, extra_ok=ok,
                             detail=f"(both replicas ready, fleet unchanged: {ok})")

        # 2. A replica killed: its proxies move to the other through nginx, nothing lost.
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        before = self.fleet_view("serve-a")
        self.kill("serve-b")
        time.sleep(4)  # two report intervals: every proxy has reported to serve-a since
        after = self.fleet_view("serve-a")
        kept = {"orders-v1-a", "orders-v1-b", "orders-v2"} <= self.endpoints_of("serve-a")[2]
        known = self.frontend_knows_orders()
        self.record_scenario("etcd-replica", "serve-b killed", load, extra_ok=after == before and kept and known,
                             detail=f"(proxy-status identical before and after: {after == before}; every endpoint kept at serve-a: {kept}, at the frontend: {known})")

        # 3. Both replicas restarted: the registry is served at once, from etcd.
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        self.kill("serve-a")
        windows = []
        for name in ("serve-a", "serve-b"):
            self.serve(name)
            status, headers, found = self.endpoints_of(name)
            windows.append((name, status, headers.get("retry-after"), len(found & every)))
        at_once = all(status == 200 and found >= 3 for _, status, _, found in windows)
        same = self.fleet_view("serve-a") == self.fleet_view("serve-b")
        self.record_scenario("etcd-restart", "both replicas restarted", load, extra_ok=at_once and same,
                             detail=f"(endpoints at once after start: {windows}; replicas agree: {same})")

        # 4. Two members of three down: no quorum. Traffic goes on; the registry is read-only.
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        self.etcd_kill(1)
        degraded = self.wait("both replicas degraded", lambda: all(self.readyz(n)["status"] == "degraded" for n in self.servers), timeout=30)
        status, headers, found = self.endpoints_of("serve-a")
        stale = status == 200 and headers.get("x-meshc-registry-stale") == "true" and len(found) >= 3
        time.sleep(3)
        self.etcd_start(1)
        self.etcd_start(2)
        self.wait("etcd quorum back", lambda: self.etcd_health() == 3, timeout=60)
        self.wait("both replicas ready", lambda: all(self.readyz(n)["status"] == "ready" for n in self.servers), timeout=30)
        self.wait("every proxy SYNCED through the store again", lambda: self.settled("serve-a", 5) and self.settled("serve-b", 5), timeout=30)
        fresh = self.endpoints_of("serve-b")[1].get("x-meshc-registry-stale") is None
        self.record_scenario("etcd-quorum", "two etcd members killed for 3 s, then back", load,
                             extra_ok=bool(degraded) and stale and fresh,
                             detail=f"(degraded and stale meanwhile: {stale}; writes resumed: {fresh})")

        # 5. A proxy killed: its endpoint goes from both replicas within its lease (3 × 2 s).
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        victim = next(p for n, p in self.procs if n == "orders-v1-b-proxy")
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed = time.time()
        self.wait("orders-v1-b gone from both replicas",
                  lambda: all("orders-v1-b" not in self.endpoints_of(n)[2] for n in self.servers), timeout=20, interval=0.05)
        gone = time.time() - killed
        self.instance("orders-v1-b", "shop/orders-v1", "orders", "v1")
        self.wait("orders-v1-b back", lambda: all("orders-v1-b" in self.endpoints_of(n)[2] for n in self.servers) and self.frontend_knows_orders(), timeout=30)
        self.record_scenario("etcd-lease", "a proxy killed, then started again", load, extra_ok=gone <= 6 + 1.5,
                             detail=f"(gone from both replicas {gone:.1f} s after the kill; lease 6 s)")

    def control_plane(self):
        print("== control-plane: every server down for 4 s, then back")
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        time.sleep(0.5)
        self.kill("serve-a")
        self.kill("serve-b")
        time.sleep(4)
        ready = all(self.request(p["admin"], "/ready")[0] == 200 for p in self.instances.values())
        self.serve("serve-a")
        self.serve("serve-b")
        self.wait("the fleet SYNCED again", lambda: self.settled("serve-a", 5), timeout=60)
        self.record_scenario("control-plane", "both replicas killed for 4 s, restarted", load, extra_ok=ready,
                             detail=f"(proxies ready throughout: {ready}; SYNCED again)")

    def kill_publish(self):
        print("== kill-publish: kill -9 of the publishing server, five times")
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        versions = []
        for i in range(5):
            before = self.served("serve-a")
            self.shift(10 + 10 * i)
            self.sync("serve-a", "serve-b")
            time.sleep(random.uniform(0.0, 0.03))
            self.kill("serve-a")
            self.serve("serve-a")
            after = self.served("serve-a")
            if after < before:
                raise StepFailed(f"version went down after a crash: {before} → {after}")
            self.sync("serve-a")
            # Every proxy on the served version, as each proxy itself says (a proxy that failed
            # through the restart waits out its backoff, at most 30 s).
            served = self.wait("a version above the one before the crash", lambda: (lambda v: v if v > before else None)(self.served("serve-a")), timeout=60)
            self.wait("every proxy on the served version",
                      lambda: all(self.applied(ports) == served for ports in self.instances.values()), timeout=120)
            versions.append(served)
        self.record_scenario("kill-publish", "5 crashes mid-publish, each restarted", load,
                             detail=f"(versions only went up: {len(set(versions))} published; every proxy on a whole revision)")

    def hostile(self):
        print("== hostile: a server feeding a proxy bad bundles")
        good_bundle = self.server_request(self.servers["serve-a"]["port"], "/v1/bundles/web/frontend")[2]
        envelope = json.loads(good_bundle)
        payload = json.loads(base64.b64decode(envelope["payload"]))
        version = payload["manifest"]["version"]
        parts = {}
        config = payload.get("config", {})
        for digest in config.get("outboundParts", []):
            parts[digest] = self.server_request(self.servers["serve-a"]["port"], f"/v1/parts/{digest}")[2]
        checkout = os.path.join(self.work, "checkout")
        shutil.copytree(os.path.join(self.repo, "policies"), checkout)
        other_keys = os.path.join(self.work, "other-keys")
        self.run([self.meshc, "keygen", "--out", other_keys])

        def compiled(key, bundle_version, issued=None, workload="web/frontend", ttl=None):
            out = os.path.join(self.work, f"compiled-{random.randrange(1 << 30)}")
            argv = [self.meshc, "compile", checkout, "--key", key, "--out", out, "--workload", workload,
                    "--bundle-version", str(bundle_version)]
            if issued:
                argv += ["--issued-at", issued]
            self.run(argv)
            data = open(os.path.join(out, workload + ".json"), "rb").read()
            for name in os.listdir(os.path.join(out, "_parts")):
                parts.setdefault(name.replace(".json", ""), open(os.path.join(out, "_parts", name), "rb").read())
            return data

        signing = os.path.join(self.keys, "signing.key")
        tampered = bytearray(good_bundle)
        i = good_bundle.index(b'"payload"') + 40
        tampered[i] = ord("A") if tampered[i] != ord("A") else ord("B")
        unsigned = json.dumps(dict(envelope, signatures=[])).encode()
        # (what, bundle, a part served corrupted, what the proxy's reason must say)
        cases = [
            ("tampered", bytes(tampered), None, "signature does not verify"),
            ("unsigned", unsigned, None, "not signed"),
            ("unknown key", compiled(os.path.join(other_keys, "signing.key"), version + 10), None, "trust root does not list"),
            ("expired", compiled(signing, version + 20, issued="2020-01-01T00:00:00Z"), None, "expired"),
            ("rolled back", compiled(signing, version - 5), None, "rollback refused"),
            ("wrong workload", compiled(signing, version + 40, workload="shop/orders-v1"), None, "is for workload shop/orders-v1"),
        ]
        newer = compiled(signing, version + 30)
        newer_parts = json.loads(base64.b64decode(json.loads(newer)["payload"]))["config"].get("outboundParts", [])
        cases.append(("part not its digest", newer, newer_parts[0] if newer_parts else None, "outbound part"))

        state = {"bundle": good_bundle, "corrupt": None, "reports": []}
        lock = threading.Lock()
        real = self.servers["serve-a"]["port"]
        tls = self.server_tls

        class Hostile(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def send(self, status, body=b"", headers=()):
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.startswith("/v1/bundles/"):
                    with lock:
                        body = state["bundle"]
                    etag = '"sha256:' + hashlib.sha256(body).hexdigest() + '"'
                    if self.headers.get("if-none-match") == etag:
                        time.sleep(0.5)
                        return self.send(304, headers=[("etag", etag)])
                    return self.send(200, body, [("etag", etag)])
                if self.path.startswith("/v1/parts/"):
                    digest = self.path[len("/v1/parts/"):]
                    with lock:
                        data = parts.get(digest)
                        if digest == state["corrupt"]:
                            data = data + b" "
                    return self.send(200 if data else 404, data or b"")
                status, headers, body = demo.Demo.request(real, self.path, tls=tls)
                self.send(status, body, [("etag", headers["etag"])] if "etag" in headers else [])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path == "/v1/status":
                    with lock:
                        state["reports"].append(json.loads(body))
                    return self.send(204)
                # Certificates come from the real CA (the hostility is in the bundles).
                forward = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type") or k.lower().startswith("x-meshc-")}
                status, _, answer = demo.Demo.request(real, self.path, method="POST", headers=forward, body=body, tls=tls)
                self.send(status, answer, [("content-type", "application/json")])

            def log_message(self, *args):
                pass

        hostile_port = self.free_port()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", hostile_port), Hostile)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            # A plain-HTTP server (the proxy's trust bundle still seeded from the mesh CA).
            ports = self.instance("frontend-hostile", "web/frontend", "frontend", "v1", server=hostile_port, scheme="http")
            self.wait("the proxy on the good bundle", lambda: self.applied(ports) == version, timeout=30)

            def endpoints():
                text = self.request(ports["admin"], "/clusters")[2].decode()
                return text.count("|v1|orders.shop.svc.cluster.local::") >= 2 and "|v2|orders" in text
            self.wait("the proxy to know the orders instances", endpoints, timeout=60)
            load = Load(ports["outbound"])
            load.start()
            refused = []
            for name, bundle, corrupt, expected in cases:
                with lock:
                    seen = len(state["reports"])
                    state["bundle"], state["corrupt"] = bundle, corrupt
                report = self.wait(f"the proxy to reject the {name} bundle",
                                   lambda: next((r for r in state["reports"][seen:] if r.get("state") == "rejected" and expected in (r.get("reason") or "")), None), timeout=30)
                applied = self.applied(ports)
                if applied != version:
                    raise StepFailed(f"{name}: the proxy applied version {applied}")
                refused.append(f"{name}: {(report.get('reason') or '')[:90]}")
            for line in refused:
                print("     " + line)
            self.record_scenario("hostile", f"{len(cases)} bad bundles served", load,
                                 detail=f"(every one REJECTED, version {version} kept)")
        finally:
            server.shutdown()

    def reloads(self):
        print("== reloads: 100 configs applied under load")
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        start = last = self.served("serve-a")
        for i in range(100):
            self.shift(10 + (i % 5) * 10)
            self.sync("serve-a", "serve-b")
            target = self.wait("the commit published", lambda: (lambda v: v if v > last else None)(self.served("serve-a")), timeout=30, interval=0.01)
            self.wait("frontend on the new config",
                      lambda: (self.applied(self.instances["frontend"]) or 0) >= target, timeout=30, interval=0.01)
            last = target
        self.record_scenario("reloads", f"100 commits, each applied by every proxy (versions {start} → {self.served('serve-a')})", load)

    def rotation(self):
        print("== rotation: the mesh CA's root rotated under load (stage, activate), nothing restarted")
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        self.run([self.meshc, "ca", "rotate", "--ca", self.ca])
        self.trust_roots()  # the suite's own client refreshes its bundle too
        staged = open(os.path.join(self.ca, "next.pem")).read().strip()

        def everyone_trusts():
            return all(staged in open(os.path.join(self.work, "certs", name, "roots.pem")).read() for name in self.instances)
        self.wait("every proxy to trust the staged root", everyone_trusts, timeout=60)
        self.run([self.meshc, "ca", "rotate", "--ca", self.ca])
        new_only = ssl.create_default_context(cafile=os.path.join(self.ca, "root.pem"))
        self.wait("both replicas on a certificate of the new root",
                  lambda: all(self.request(s["port"], "/healthz", tls=new_only)[0] == 200 for s in self.servers.values()), timeout=30)
        # A new instance gets a certificate of the new root; frontend's is of the old one.
        self.instance("orders-v1-c", "shop/orders-v1", "orders", "v1")
        self.wait("orders-v1-c to take frontend's traffic over mTLS",
                  lambda: self.metric("orders-v1-c", 'istio_requests_total{reporter="destination",source_workload="frontend",source_workload_namespace="web"')[0] >= 5,
                  timeout=60)

        def verifies(name):
            return subprocess.run(["openssl", "verify", "-CAfile", os.path.join(self.ca, "root.pem"),
                                   os.path.join(self.work, "certs", name, "cert.pem")], capture_output=True).returncode == 0
        mixed = verifies("orders-v1-c") and not verifies("frontend")
        self.record_scenario("rotation", "root staged, in every proxy's bundle, activated", load, extra_ok=mixed,
                             detail=f"(a new-root instance served old-root peers over mTLS: {mixed})")

    def garbage(self):
        print("== garbage: random and malformed input to the server and the proxies' listeners")
        load = Load(self.instances["frontend"]["outbound"])
        load.start()
        rng = random.Random(20261203)
        targets = [("serve-a", self.servers["serve-a"]["port"])]
        for name in ["frontend", "orders-v1-a", "payments"]:
            for kind in ["outbound", "inbound", "admin"]:
                targets.append((f"{name} {kind}", self.instances[name][kind]))
        shapes = [
            lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))),
            lambda: b"\x16\x03\x01" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))),
            lambda: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200))),
            lambda: b"GET /" + b"a" * rng.randrange(1, 9000) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            lambda: b"POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(rng.randrange(0, 10**9)).encode() + b"\r\n\r\n{",
            lambda: b"GET /v1/bundles/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            lambda: b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * rng.randrange(1, 3000) + b"\r\n",
            lambda: b"GET / HTTP/1.1\r\nHost: orders.shop:8080\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            lambda: b"GET /?" + bytes(rng.choice(b"%&=?#[]\x00\xff") for _ in range(200)) + b" HTTP/1.1\r\nHost: [::1\r\n\r\n",
        ]
        sent = 0
        for _ in range(600):
            _, port = rng.choice(targets)
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                s.sendall(rng.choice(shapes)())
                s.settimeout(0.5)
                try:
                    s.recv(4096)
                except OSError:
                    pass
                s.close()
                sent += 1
            except OSError:
                pass
        alive = [name for name, port in targets if self.responds(port)]
        self.record_scenario("garbage", f"{sent} hostile inputs to {len(targets)} listeners", load,
                             extra_ok=len(alive) == len(targets), detail=f"({len(alive)}/{len(targets)} listeners still answer)")

    def responds(self, port):
        """Whether a listener still accepts a connection and answers a request."""
        try:
            if port == self.servers["serve-a"]["port"]:
                status, _, _ = self.server_request(port, "/healthz", timeout=5)
            else:
                status, _, _ = self.request(port, "/ready", host="orders.shop:8080", timeout=5)
            return status > 0
        except OSError:
            # The inbound listener of a STRICT workload closes plaintext: it still accepted.
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                return True
            except OSError:
                return False

    @property
    def scenarios(self):
        # RELIABILITY_ONLY=etcd_failures,garbage runs those alone (while working on them).
        only = [n for n in os.environ.get("RELIABILITY_ONLY", "").split(",") if n]
        if only:
            return [getattr(self, n) for n in only]
        return [self.replicas, self.etcd_failures, self.control_plane, self.kill_publish, self.rotation, self.hostile, self.reloads, self.garbage]

    def main(self):
        code = 0
        try:
            self.setup()
            for scenario in self.scenarios:
                scenario()
        except (StepFailed, OSError, KeyError, ValueError, subprocess.TimeoutExpired) as e:
            print(f"   ✘ {e}")
            code = 1
        finally:
            self.stop_all()
        print("\n== reliability summary")
        for name, tried, ok, lost, good, detail in self.summary:
            print(f"   {name:14} {'ok  ' if good else 'FAIL'}  {ok:6} requests, {lost} lost — {tried}")
        passed = sum(1 for s in self.summary if s[4])
        failed = len(self.summary) - passed
        print(f"reliability: {passed} passed, {failed} failed")
        if code or failed or not self.summary:
            print(f"logs in {self.logs}")
            return 1
        shutil.rmtree(self.work, ignore_errors=True)
        return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(Suite(sys.argv[1], sys.argv[2]).main())
