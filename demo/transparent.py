#!/usr/bin/env python3
"""`make demo` (as root), and a test in `make test`: the transparent mesh, end to end — the
applications call each other by service name, unaware of the mesh — in "pods" of our own: network namespaces linked by veth
pairs to a bridge that sits in a namespace of its own (never the host's network), addresses
from 240.241.0.0/16, meshc serve on the bridge with a mesh CA, and in each pod the capture
rules (`mesh-proxy iptables`), a `mesh-proxy run --capture` as uid 1337 and an unmodified
application as another uid, with no proxy settings anywhere.

    demo/transparent.py MESHC MESH_PROXY
    demo/transparent.py --can-run        exit 0 when this machine can run it (else says why)
    demo/transparent.py MESHC MESH_PROXY --bench   then wrk through both sidecars (needs wrk)
    demo/transparent.py MESHC MESH_PROXY --console  with Prometheus on the bridge scraping every
        sidecar and meshc serve's console; at the end a screenshot of its graph from headless
        Chromium (demo/out/console-graph.png) — what `make demo` runs

What it shows, each check failing without the capture:
  * DNS: `reviews` resolves (through the pod's DNS proxy) to the service's virtual IP, the
    one GET /v1/services lists;
  * HTTP: curl in the web pod calls http://reviews:9080/ unchanged and gets an answer through
    both sidecars, in STRICT mTLS: the route's split (all to v1) and its header route
    (x-canary: true → v2), an AuthorizationPolicy's deny (403 on /admin), the callee's
    metrics naming the caller's SPIFFE identity;
  * HTTP/1.1 details: retries (a route's retryOn 5xx hides a flaky instance), a route timeout
    (504 in 0.5 s), a chunked upload, `Expect: 100-continue`, a 50 kB header passing and a
    70 kB one answered 431, server-sent events streamed;
  * TLS the application originates (curl to https://meshc-serve on the bridge, outside the
    mesh): passed through by original destination, the server's certificate verified by curl;
  * WebSocket: a `websockets` client and server (PyPI's, Debian's package) by name: routed,
    upgraded, spliced both ways, still open after a pause;
  * gRPC over h2c: grpcio's client and server, unary, server streaming, client streaming,
    bidirectional streaming in lock step (deadlocks if requests are held), a deadline;
  * TCP: redis-cli in the web pod talks to redis-server in the store pod by name (SET/GET),
    through both sidecars in STRICT mTLS, with Istio's TCP metrics, and TCP authorization by
    source principal (an ALLOW policy naming web: reviews-v1 is refused);
  * STRICT: a pod without a sidecar cannot reach the store pod's Redis.

Needs root, `ip netns`, iptables-restore, setpriv and redis-server (ci/install-deps.sh --test
installs them). Without them it says so and exits 0, unless MESHC_REQUIRE_NAMESPACES=1 (CI
sets it), where that is a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "demo"))
import console  # noqa: E402 — Prometheus and headless Chromium for the console (--console)
BRIDGE_NS = "mpbr"
BRIDGE_IP = "240.241.0.1"
PROXY_UID = 1337
APP_UID = 1000

POLICY = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: reviews, namespace: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: store, namespace: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: web, image: example/web:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews, version: v1}}
  template:
    metadata: {labels: {app: reviews, version: v1}}
    spec:
      serviceAccountName: reviews
      containers:
      - {name: reviews, image: example/reviews:1, ports: [{containerPort: 9080}]}
      - {name: bench, image: nginx:1, ports: [{containerPort: 9081}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v2, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews, version: v2}}
  template:
    metadata: {labels: {app: reviews, version: v2}}
    spec:
      serviceAccountName: reviews
      containers:
      - {name: reviews, image: example/reviews:2, ports: [{containerPort: 9080}]}
      - {name: chat, image: example/chat:1, ports: [{containerPort: 8765}]}
      - {name: greeter, image: example/greeter:1, ports: [{containerPort: 50051}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: store, namespace: shop}
spec:
  selector: {matchLabels: {app: store}}
  template:
    metadata: {labels: {app: store}}
    spec:
      serviceAccountName: store
      containers: [{name: redis, image: redis:7, ports: [{containerPort: 6379}]}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: store, namespace: shop}
spec:
  selector: {app: store}
  ports: [{name: tcp-redis, port: 6379}]
---
apiVersion: v1
kind: Service
metadata: {name: bench, namespace: shop}
spec:
  selector: {app: reviews, version: v1}
  ports: [{name: http-bench, port: 9081}]
---
apiVersion: v1
kind: Service
metadata: {name: chat, namespace: shop}
spec:
  selector: {app: reviews, version: v2}
  ports: [{name: http-ws, port: 8765}]
---
apiVersion: v1
kind: Service
metadata: {name: greeter, namespace: shop}
spec:
  selector: {app: reviews, version: v2}
  ports: [{name: grpc, port: 50051}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec:
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-canary: {exact: "true"}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{uri: {prefix: /flaky}}]
    route: [{destination: {host: reviews, subset: v1}}]
    retries: {attempts: 3, retryOn: 5xx}
  - match: [{uri: {prefix: /slow}}]
    route: [{destination: {host: reviews, subset: v1}}]
    timeout: 500ms
  - route: [{destination: {host: reviews, subset: v1}, weight: 100}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-admin, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: store-clients, namespace: shop}
spec:
  selector: {matchLabels: {app: store}}
  action: ALLOW
  rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/web"]}}]}]
"""

APP = r'''
import itertools, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
version = sys.argv[1]
calls = itertools.count()
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path.startswith("/flaky"):
            with lock:
                n = next(calls)
            # Every other call fails: a retry on 5xx always finds a good one.
            return self.answer(503 if n % 2 == 0 else 200, {"version": version, "call": n})
        if self.path.startswith("/slow"):
            time.sleep(2)
        if self.path.startswith("/events"):
            # Server-sent events, one every 0.3 s, chunked: they must arrive as they are sent.
            self.send_response(200); self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked"); self.end_headers()
            for i in range(4):
                data = f"data: {i}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data)); self.wfile.flush()
                time.sleep(0.3)
            self.wfile.write(b"0\r\n\r\n"); return
        self.answer(200, {"version": version, "path": self.path})
    def do_POST(self):
        # A chunked body (or one sent after `100 Continue`, which the server sends itself).
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline(); break
                body += self.rfile.read(size); self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.answer(200, {"version": version, "received": len(body), "chunked": "transfer-encoding" in self.headers})
    def log_message(self, *a): pass
ThreadingHTTPServer(("0.0.0.0", 9080), H).serve_forever()
'''


WS_SERVER = r'''
import asyncio, websockets
async def echo(ws, path=None):
    async for m in ws:
        await ws.send("echo:" + m)
async def main():
    async with websockets.serve(echo, "0.0.0.0", 8765):
        await asyncio.Future()
asyncio.run(main())
'''

WS_CLIENT = r'''
import asyncio, websockets
async def main():
    async with websockets.connect("ws://chat:8765/room", open_timeout=10) as ws:
        got = []
        for i in range(3):
            await ws.send(f"m{i}")
            got.append(await asyncio.wait_for(ws.recv(), 10))
        await asyncio.sleep(1.5)          # the connection lasts as long as both ends keep it
        await ws.send("late")
        got.append(await asyncio.wait_for(ws.recv(), 10))
        print(" ".join(got))
asyncio.run(main())
'''

# gRPC without generated code: grpcio's generic handlers over raw bytes, all four call shapes.
GRPC_SERVER = r'''
import time, grpc
from concurrent import futures
raw = lambda b: b
def unary(req, ctx): return b"unary:" + req
def slow(req, ctx):
    time.sleep(3); return b"late"
def server_stream(req, ctx):
    for i in range(3):
        yield b"part%d:" % i + req
def client_stream(it, ctx): return b"+".join(it)
def bidi(it, ctx):
    for m in it:
        yield b"echo:" + m
h = grpc.method_handlers_generic_handler("mesh.Echo", {
    "Unary": grpc.unary_unary_rpc_method_handler(unary, request_deserializer=raw, response_serializer=raw),
    "Slow": grpc.unary_unary_rpc_method_handler(slow, request_deserializer=raw, response_serializer=raw),
    "Server": grpc.unary_stream_rpc_method_handler(server_stream, request_deserializer=raw, response_serializer=raw),
    "Client": grpc.stream_unary_rpc_method_handler(client_stream, request_deserializer=raw, response_serializer=raw),
    "Bidi": grpc.stream_stream_rpc_method_handler(bidi, request_deserializer=raw, response_serializer=raw)})
s = grpc.server(futures.ThreadPoolExecutor(8))
s.add_generic_rpc_handlers((h,))
s.add_insecure_port("0.0.0.0:50051")
s.start()
s.wait_for_termination()
'''

GRPC_CLIENT = r'''
import queue, grpc
raw = lambda b: b
ch = grpc.insecure_channel("greeter:50051")
call = lambda kind, name: getattr(ch, kind)("/mesh.Echo/" + name, request_serializer=raw, response_deserializer=raw)
out = {}
out["unary"] = call("unary_unary", "Unary")(b"hi", timeout=10).decode()
out["server"] = [m.decode() for m in call("unary_stream", "Server")(b"x", timeout=10)]
out["client"] = call("stream_unary", "Client")(iter([b"a", b"b", b"c"]), timeout=10).decode()
# Bidirectional, in lock step: each message waits for the answer to the one before, which
# deadlocks a proxy that holds the request until the client's end of stream.
acks = queue.Queue()
def lockstep():
    for m in [b"1", b"2", b"3"]:
        yield m
        acks.get(timeout=10)
got = []
for r in call("stream_stream", "Bidi")(lockstep(), timeout=15):
    got.append(r.decode())
    acks.put(1)
out["bidi"] = got
try:
    call("unary_unary", "Slow")(b"x", timeout=0.5)
    out["deadline"] = "answered"
except grpc.RpcError as e:
    out["deadline"] = e.code().name
import json
print(json.dumps(out))
'''


class Failed(Exception):
    pass


def sh(cmd, check=True, timeout=60):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise Failed(f"`{cmd}` exited {r.returncode}: {(r.stderr or r.stdout).strip()[:600]}")
    return r.stdout


def available():
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    for tool in ("ip", "iptables-restore", "setpriv", "redis-server", "redis-cli", "curl"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            missing.append(tool)
    if subprocess.run(["/usr/bin/python3", "-c", "import websockets, grpc"], capture_output=True).returncode != 0:
        missing.append("Debian's python3-websockets and python3-grpcio")
    return missing


class Pods:
    console = False

    def __init__(self, meshc, proxy):
        self.meshc = os.path.abspath(meshc)
        self.proxy = os.path.abspath(proxy)
        self.work = tempfile.mkdtemp(prefix="meshc-pods-")
        os.chmod(self.work, 0o755)
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs)
        # The sidecars run as uid 1337, which may not traverse the checkout (a private
        # temporary directory, a home directory): they run a copy kept in the work directory.
        os.makedirs(os.path.join(self.work, "bin"))
        proxy_copy = os.path.join(self.work, "bin", "mesh-proxy")
        shutil.copy2(self.proxy, proxy_copy)
        os.chmod(proxy_copy, 0o755)
        os.chmod(os.path.join(self.work, "bin"), 0o755)
        self.proxy = proxy_copy
        self.procs = []
        self.pods = {}
        self.results = []
        self.tag = str(os.getpid() % 10000)

    def ns(self, name):
        return f"mp{name}{self.tag}"

    def start(self, name, cmd):
        log = open(os.path.join(self.logs, name + ".log"), "w")
        p = subprocess.Popen(cmd, shell=True, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.procs.append((name, p))
        return p

    def wait(self, what, check, timeout=60):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                got = check()
                if got:
                    return got
            except (Failed, OSError, ValueError, subprocess.TimeoutExpired) as e:
                last = e
            time.sleep(0.2)
        raise Failed(f"timed out waiting for {what}" + (f" (last: {last})" if last else ""))

    def record(self, ok, detail):
        self.results.append((ok, detail))
        print(f"   {'✔' if ok else '✘'} {detail}", flush=True)
        if not ok:
            raise Failed(detail)

    # -- the network ------------------------------------------------------------------

    def bridge(self):
        b = self.ns("br")
        sh(f"ip netns add {b}")
        sh(f"ip -n {b} link set lo up && ip -n {b} link add br0 type bridge && ip -n {b} link set br0 up "
           f"&& ip -n {b} addr add {BRIDGE_IP}/16 dev br0")

    def pod(self, name, index):
        n, b = self.ns(name), self.ns("br")
        ip = f"240.241.0.{index}"
        sh(f"ip netns add {n}")
        # The pod's end of the veth is eth0; the other end joins the bridge.
        sh(f"ip -n {n} link set lo up && ip -n {n} link add eth0 type veth peer name v{name}{self.tag} netns {b} "
           f"&& ip -n {b} link set v{name}{self.tag} master br0 && ip -n {b} link set v{name}{self.tag} up "
           f"&& ip -n {n} link set eth0 up && ip -n {n} addr add {ip}/16 dev eth0 "
           f"&& ip -n {n} route add default via {BRIDGE_IP} dev eth0")
        # The pod's resolv.conf (ip netns exec mounts /etc/netns/NAME/resolv.conf over it): a
        # resolver nobody runs, and Kubernetes' search path. The capture rules send port 53 to
        # the proxy's DNS.
        os.makedirs(f"/etc/netns/{n}", exist_ok=True)
        with open(f"/etc/netns/{n}/resolv.conf", "w") as f:
            f.write(f"nameserver {BRIDGE_IP}\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:2 attempts:1\n")
        self.pods[name] = ip
        return ip

    def in_pod(self, name, cmd, uid=APP_UID, env=""):
        """A command in the pod, as the application's uid, with no proxy settings."""
        return f"ip netns exec {self.ns(name)} setpriv --reuid={uid} --regid={uid} --clear-groups env -i PATH=/usr/bin:/bin {env} {cmd}"

    def sidecar(self, name, workload):
        n = self.ns(name)
        sh(f"ip netns exec {n} {self.proxy} iptables")
        state = os.path.join(self.work, "state", name)
        certs = os.path.join(self.work, "certs", name)
        os.makedirs(state)
        os.makedirs(certs)
        token = sh(f"{self.meshc} ca token --ca {self.ca} --workload {workload}").strip()
        with open(os.path.join(certs, "token"), "w") as f:
            f.write(token + "\n")
        sh(f"chown -R {PROXY_UID}:{PROXY_UID} {state} {certs}")
        self.start(name + "-proxy", self.in_pod(name, f"{self.proxy} run --capture --workload {workload} "
                   f"--server https://{BRIDGE_IP}:8443 --ca-roots {self.ca}/trust-bundle.pem --trust {self.keys}/trust.json "
                   f"--state-dir {state} --cert-dir {certs} --ca-token {certs}/token --instance {name} "
                   # With the console, Prometheus on the bridge scrapes the admin port (15000,
                   # never captured), so it listens on the pod's address too.
                   f"--admin {'0.0.0.0' if self.console else '127.0.0.1'}:15000 --report-interval 1", uid=PROXY_UID))

    def admin(self, name, path, code=False):
        """The pod's proxy admin listener (on the pod's loopback)."""
        fmt = "-o /dev/null -w '%{http_code}'" if code else ""
        return sh(f"ip netns exec {self.ns(name)} curl -s {fmt} --max-time 5 http://127.0.0.1:15000{path}", check=False, timeout=20)

    def server(self, path, code=False):
        """meshc serve, on the bridge (HTTPS, verified against the mesh CA)."""
        fmt = "-o /dev/null -w '%{http_code}'" if code else ""
        return sh(f"ip netns exec {self.ns('br')} curl -s {fmt} --max-time 5 --cacert {self.ca}/trust-bundle.pem "
                  f"https://{BRIDGE_IP}:8443{path}", check=False, timeout=20)

    # -- the steps --------------------------------------------------------------------

    def setup(self):
        print("== pods: a bridge namespace, web, reviews-v1, reviews-v2, store, and a pod without a sidecar", flush=True)
        self.bridge()
        for i, name in enumerate(["web", "rv1", "rv2", "store", "plain"]):
            self.pod(name, 10 + i)
        repo = os.path.join(self.work, "repo")
        os.makedirs(os.path.join(repo, "mesh"))
        with open(os.path.join(repo, "mesh", "mesh.yaml"), "w") as f:
            f.write(POLICY)
        git = "git -c user.email=t@meshc -c user.name=t -c commit.gpgsign=false"
        sh(f"cd {repo} && git init -q -b main && {git} add -A && {git} commit -qm mesh")
        lint = subprocess.run([self.meshc, "lint", os.path.join(repo, "mesh")], capture_output=True, text=True)
        self.record(lint.returncode == 0, f"the mesh's policy lints clean (exit {lint.returncode}) {lint.stdout.strip()[-200:]}")
        self.keys = os.path.join(self.work, "keys")
        self.ca = os.path.join(self.work, "ca")
        sh(f"{self.meshc} keygen --out {self.keys}")
        sh(f"{self.meshc} ca init --out {self.ca}")
        # The proxies (uid 1337) read the trust root and the CA's trust bundle, nothing else of it.
        sh(f"chmod 755 {self.work} {self.keys} {self.ca} && chmod 644 {self.keys}/trust.json {self.ca}/trust-bundle.pem")
        console_flags = f"--console --prometheus http://{BRIDGE_IP}:9090" if self.console else ""
        self.start("serve", f"ip netns exec {self.ns('br')} {self.meshc} serve --repo {repo} --dir mesh "
                            f"--key {self.keys}/signing.key --listen {BRIDGE_IP}:8443 --data-dir {self.work}/serve "
                            f"--ca {self.ca} --report-interval 2s --poll-interval 60s {console_flags}")
        self.wait("meshc serve's first revision", lambda: self.server("/readyz", code=True) == "200")
        if self.console:
            # Prometheus on the bridge, following the fleet through meshc serve's discovery.
            console.Prometheus(self.work, self.logs, f"https://{BRIDGE_IP}:8443", f"{self.ca}/trust-bundle.pem", port=9090,
                               host=BRIDGE_IP, prefix=["ip", "netns", "exec", self.ns("br")], wait=False)
        app = os.path.join(self.work, "app.py")
        with open(app, "w") as f:
            f.write(APP)
        os.chmod(app, 0o644)
        self.start("rv1-app", self.in_pod("rv1", f"python3 {app} v1"))
        self.start("rv2-app", self.in_pod("rv2", f"python3 {app} v2"))
        for name, text in [("ws-server.py", WS_SERVER), ("ws-client.py", WS_CLIENT), ("grpc-server.py", GRPC_SERVER), ("grpc-client.py", GRPC_CLIENT)]:
            with open(os.path.join(self.work, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(self.work, name), 0o644)
        self.start("chat-app", self.in_pod("rv2", f"python3 {self.work}/ws-server.py"))
        self.start("greeter-app", self.in_pod("rv2", f"python3 {self.work}/grpc-server.py"))
        self.start("store-app", self.in_pod("store", "redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no"))
        for name, workload in [("web", "shop/web"), ("rv1", "shop/reviews-v1"), ("rv2", "shop/reviews-v2"), ("store", "shop/store")]:
            self.sidecar(name, workload)

        for name in ("web", "rv1", "rv2", "store"):
            # Ready (its bundle applied) and holding its certificate (no warning about one).
            self.wait(f"{name}'s proxy ready with its certificate",
                      lambda: self.admin(name, "/ready", code=True) == "200" and "certificate" not in self.admin(name, "/ready"))
        services = json.loads(self.server("/v1/services"))
        self.vips = {s["name"]: s["address"] for s in services["services"]}
        self.record(all(self.vips.get(n, "").startswith("240.240.") for n in ("reviews", "store")),
                    f"GET /v1/services: reviews at {self.vips.get('reviews')}, store at {self.vips.get('store')} (240.240.0.0/16)")

        def knows_endpoints():
            text = self.admin("web", "/clusters")
            return f"{self.pods['rv1']}:9080" in text and f"{self.pods['rv2']}:9080" in text and f"{self.pods['store']}:6379" in text
        self.wait("web's proxy to know the instances (captured pods announce their address alone)", knows_endpoints)

    def dns(self):
        print("== DNS: the application's resolver asks the pod's DNS proxy", flush=True)
        got = sh(self.in_pod("web", "getent hosts reviews"), check=False).split()
        self.record(got[:1] == [self.vips["reviews"]], f"`getent hosts reviews` in web → {' '.join(got[:2]) or 'nothing'} (the virtual IP)")
        full = sh(self.in_pod("web", "getent hosts store.shop.svc.cluster.local"), check=False).split()
        self.record(full[:1] == [self.vips["store"]], f"`getent hosts store.shop.svc.cluster.local` → {full[:1]}")

    def http(self):
        print("== HTTP: curl http://reviews:9080/ in web, unchanged, through both sidecars (STRICT mTLS)", flush=True)
        seen = {}
        for _ in range(10):
            out = sh(self.in_pod("web", "curl -s --max-time 10 http://reviews:9080/"), check=False)
            v = json.loads(out)["version"] if out.startswith("{") else f"error:{out[:80]}"
            seen[v] = seen.get(v, 0) + 1
        self.record(seen == {"v1": 10}, f"10 calls: {seen} (the route sends everything else to v1)")
        out = sh(self.in_pod("web", "curl -s --max-time 10 -H 'x-canary: true' http://reviews:9080/"), check=False)
        self.record(out.startswith("{") and json.loads(out)["version"] == "v2", f"x-canary: true → {out[:60]}")
        code = sh(self.in_pod("web", "curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://reviews:9080/admin"), check=False)
        self.record(code == "403", f"GET /admin → {code} (the AuthorizationPolicy's DENY, at the callee's sidecar)")
        metrics = self.admin("rv1", "/stats/prometheus")
        peer = [l for l in metrics.splitlines() if l.startswith("istio_requests_total") and "shop/sa/web" in l]
        self.record(bool(peer) and "mutual_tls" in peer[0],
                    f"reviews-v1's sidecar counted the calls from spiffe://cluster.local/ns/shop/sa/web over mutual TLS")

    def http_details(self):
        print("== HTTP/1.1 through both sidecars: retries, a timeout, chunked and 100-continue bodies, server-sent events", flush=True)
        codes = [sh(self.in_pod("web", "curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://reviews:9080/flaky"), check=False) for _ in range(6)]
        self.record(codes == ["200"] * 6, f"/flaky (every other call a 503 at the app) with retries {{attempts: 3, retryOn: 5xx}}: {codes}")
        started = time.time()
        code = sh(self.in_pod("web", "curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://reviews:9080/slow"), check=False)
        took = time.time() - started
        self.record(code == "504" and took < 1.8, f"/slow (2 s at the app) under timeout: 500ms → {code} after {took:.1f} s")
        blob = os.path.join(self.work, "blob")
        with open(blob, "wb") as f:
            f.write(os.urandom(300_000))
        os.chmod(blob, 0o644)
        out = sh(self.in_pod("web", f"curl -s --max-time 10 -H 'Transfer-Encoding: chunked' --data-binary @{blob} http://reviews:9080/up"), check=False)
        self.record('"received": 300000' in out, f"a 300 kB chunked upload arrives whole: {out[:80]}")
        out = sh(self.in_pod("web", f"curl -s --max-time 10 -H 'Expect: 100-continue' --data-binary @{blob} http://reviews:9080/up"), check=False)
        self.record('"received": 300000' in out, f"Expect: 100-continue with 300 kB: {out[:80]}")
        big = "x" * 50_000
        code = sh(self.in_pod("web", f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 -H 'x-big: {big}' http://reviews:9080/"), check=False)
        self.record(code == "200", f"a 50 kB header passes (Envoy's 60 KiB limit): {code}")
        huge = "x" * 70_000
        code = sh(self.in_pod("web", f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 -H 'x-big: {huge}' http://reviews:9080/"), check=False)
        self.record(code == "431", f"a 70 kB header is refused at the caller's sidecar: {code}")
        # Event arrival times as the client sees them: streamed, not held until the end.
        probe = ("import time, urllib.request; t = time.time(); r = urllib.request.urlopen('http://reviews:9080/events', timeout=10); "
                 "print([round(time.time() - t, 2) for line in r if line.startswith(b'data:')])")
        got = sh(self.in_pod("web", f'python3 -c "{probe}"'), check=False).strip()
        try:
            times = json.loads(got)
        except ValueError:
            times = []
        self.record(len(times) == 4 and times[0] < 0.25 and times[-1] > 0.8,
                    f"server-sent events arrive as they are sent (seconds after the request: {times or got[:80]})")

    def tls_passthrough(self):
        print("== TLS the application originates itself, to a host outside the mesh", flush=True)
        # meshc serve on the bridge is such a host: curl verifies its certificate end to end,
        # which only works if the sidecar passed the bytes through untouched (by original
        # destination), never terminating them.
        code = sh(self.in_pod("web", f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 --cacert {self.ca}/trust-bundle.pem "
                                     f"https://{BRIDGE_IP}:8443/readyz"), check=False)
        self.record(code == "200", f"curl https://{BRIDGE_IP}:8443/readyz from web, its certificate verified by curl → {code}")

    def websocket(self):
        print("== WebSocket: a websockets client in web talks to a websockets server by name", flush=True)
        out = sh(self.in_pod("web", f"python3 {self.work}/ws-client.py"), check=False, timeout=60).strip()
        self.record(out == "echo:m0 echo:m1 echo:m2 echo:late",
                    f"upgraded through both sidecars, spliced both ways, still open 1.5 s later: {out[:120]!r}")

    def grpc(self):
        print("== gRPC (h2c): grpcio's client and server, the four call shapes and a deadline", flush=True)
        out = sh(self.in_pod("web", f"python3 {self.work}/grpc-client.py", env="GRPC_DNS_RESOLVER=native"), check=False, timeout=90).strip()
        try:
            got = json.loads(out.splitlines()[-1])
        except (ValueError, IndexError):
            got = {}
        self.record(got.get("unary") == "unary:hi", f"unary → {got.get('unary')!r} {'' if got else out[:300]}")
        self.record(got.get("server") == ["part0:x", "part1:x", "part2:x"], f"server streaming → {got.get('server')}")
        self.record(got.get("client") == "a+b+c", f"client streaming → {got.get('client')!r}")
        self.record(got.get("bidi") == ["echo:1", "echo:2", "echo:3"], f"bidirectional, in lock step → {got.get('bidi')}")
        self.record(got.get("deadline") == "DEADLINE_EXCEEDED", f"a 0.5 s deadline on a 3 s call → {got.get('deadline')}")

    def tcp(self):
        print("== TCP: redis-cli in web talks to redis-server in store by name (STRICT mTLS)", flush=True)
        out = sh(self.in_pod("web", "redis-cli -h store -p 6379 SET mesh transparent"), check=False).strip()
        got = sh(self.in_pod("web", "redis-cli -h store -p 6379 GET mesh"), check=False).strip()
        self.record(out == "OK" and got == "transparent", f"SET → {out!r}, GET → {got!r}")
        metrics = self.admin("web", "/stats/prometheus")
        opened = [l for l in metrics.splitlines() if l.startswith("istio_tcp_connections_opened_total") and "store" in l]
        self.record(bool(opened), f"web's sidecar counted the TCP connections: {opened[0] if opened else 'none'}")
        other = sh(self.in_pod("rv1", "redis-cli -h store -p 6379 PING"), check=False).strip()
        self.record(other != "PONG", f"reviews-v1 (another identity, through its sidecar) → {other[:60]!r} (the ALLOW policy names web's principal only)")
        plain = sh(f"ip netns exec {self.ns('plain')} redis-cli -h {self.pods['store']} -p 6379 PING", check=False).strip()
        self.record(plain != "PONG", f"a pod without a sidecar dialling store's Redis directly: {plain[:60]!r} (STRICT refuses plaintext)")

    def bench(self):
        """`--bench`: wrk in the web pod calling http://bench:9081/ (nginx in the reviews-v1
        pod) by name through both sidecars (STRICT mTLS), beside wrk in that pod calling nginx
        on loopback:
        requests per second, p99, and each sidecar's CPU per request (from /proc)."""
        print("== benchmark: wrk through both sidecars vs the app alone", flush=True)
        # nginx as the application (the demo's Python app would be what is measured).
        conf = os.path.join(self.work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"daemon off; worker_processes 1; pid {self.work}/nginx-bench/nginx.pid; error_log stderr;\n"
                    "events { worker_connections 256; }\n"
                    f"http {{ access_log off; client_body_temp_path {self.work}/nginx-bench; proxy_temp_path {self.work}/nginx-bench;\n"
                    f"  fastcgi_temp_path {self.work}/nginx-bench; uwsgi_temp_path {self.work}/nginx-bench; scgi_temp_path {self.work}/nginx-bench;\n"
                    "  server { listen 9081; location / { return 200 'ok\\n'; } } }\n")
        os.makedirs(os.path.join(self.work, "nginx-bench"), exist_ok=True)
        sh(f"chown {APP_UID} {self.work}/nginx-bench && chmod 644 {conf}")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.start("bench-app", self.in_pod("rv1", f"{nginx} -c {conf} -p {self.work}/nginx-bench"))
        self.wait("nginx in reviews-v1", lambda: sh(self.in_pod("rv1", "curl -s --max-time 2 http://127.0.0.1:9081/"), check=False).strip() == "ok")

        def pid(workload):
            return int(sh(f"pgrep -f '^[^ ]*mesh-proxy run --capture --workload {workload} '", check=False).split()[0])
        pids = {"web-proxy": pid("shop/web"), "rv1-proxy": pid("shop/reviews-v1")}

        def cpu(name):
            fields = open(f"/proc/{pids[name]}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        def wrk(pod, url, uid=APP_UID):
            out = sh(self.in_pod(pod, f"wrk -t1 -c8 -d8s --latency {url}", uid=uid), check=False, timeout=60)
            rps = next((float(l.split()[1]) for l in out.splitlines() if l.startswith("Requests/sec")), 0.0)
            p99 = next((l.split()[1] for l in out.splitlines() if l.strip().startswith("99%")), "?")
            total = next((int(l.split()[0]) for l in out.splitlines() if "requests in" in l), 0)
            return rps, p99, total

        alone = wrk("rv1", "http://127.0.0.1:9081/")
        before = {n: cpu(n) for n in ("web-proxy", "rv1-proxy")}
        meshed = wrk("web", "http://bench:9081/")
        used = {n: cpu(n) - before[n] for n in before}
        print(f"   the app alone (loopback):      {alone[0]:8.0f} req/s, p99 {alone[1]}")
        print(f"   through both sidecars (mTLS):  {meshed[0]:8.0f} req/s, p99 {meshed[1]}")
        for n, seconds in used.items():
            print(f"   {n}: {seconds * 1e6 / max(1, meshed[2]):.0f} µs of CPU per request ({seconds:.2f} s for {meshed[2]} requests)")
        self.record(meshed[2] > 0, f"wrk through the transparent mesh: {meshed[2]} requests")

    def console_screenshot(self):
        """The console's graph, once Prometheus has the traffic of the steps above, in headless
        Chromium on the bridge (where the console is reachable)."""
        def scraped():
            out = sh(f"ip netns exec {self.ns('br')} curl -s --max-time 5 'http://{BRIDGE_IP}:9090/api/v1/query?query="
                     f"count(istio_requests_total%7Breporter%3D%22destination%22%7D)'", check=False)
            result = json.loads(out or "{}").get("data", {}).get("result", [])
            return result and float(result[0]["value"][1]) > 0
        self.wait("Prometheus to have the traffic", scraped, timeout=60)
        os.makedirs(os.path.join(ROOT, "demo", "out"), exist_ok=True)
        shot = os.path.join(ROOT, "demo", "out", "console-graph.png")
        ready = "document.body.dataset.rendered === 'graph' && document.querySelectorAll('#graph .edge').length > 0"
        sh(f"ip netns exec {self.ns('br')} /usr/bin/python3 {ROOT}/demo/console.py shot 'https://{BRIDGE_IP}:8443/console/#graph' {shot} \"{ready}\"",
           timeout=120)
        self.record(os.path.getsize(shot) > 10_000, f"the console at https://{BRIDGE_IP}:8443/console/ (on the bridge: "
                    f"ip netns exec {self.ns('br')} …); its graph in headless Chromium: {os.path.relpath(shot, ROOT)}")

    def cleanup(self, keep):
        for _, p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, 15)
                except OSError:
                    pass
        for _, p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
        for name in list(self.pods) + ["br"]:
            sh(f"ip netns del {self.ns(name)}", check=False)
            shutil.rmtree(f"/etc/netns/{self.ns(name)}", ignore_errors=True)
        if keep:
            print(f"kept {self.work} (logs in {self.logs})")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def main():
    if sys.argv[1:] == ["--can-run"]:
        missing = available()
        if missing:
            print(f"transparent: needs {', '.join(missing)}")
        return 1 if missing else 0
    if len([a for a in sys.argv if a not in ("--bench", "--console")]) != 3:
        print(__doc__)
        return 2
    missing = available()
    if missing:
        msg = f"transparent: NOT RUN: the transparent-mesh test needs {', '.join(missing)}"
        print(msg, flush=True)
        return 1 if os.environ.get("MESHC_REQUIRE_NAMESPACES") == "1" else 0
    bench = "--bench" in sys.argv
    if bench:
        sys.argv.remove("--bench")
    Pods.console = "--console" in sys.argv
    if Pods.console:
        sys.argv.remove("--console")
    pods = Pods(sys.argv[1], sys.argv[2])
    failed = False
    try:
        pods.setup()
        pods.dns()
        pods.http()
        pods.http_details()
        pods.tls_passthrough()
        pods.websocket()
        pods.grpc()
        pods.tcp()
        if Pods.console:
            pods.console_screenshot()
        if bench:
            pods.bench()
    except (Failed, subprocess.TimeoutExpired) as e:
        failed = True
        print(f"transparent: FAILED: {e}", flush=True)
        try:
            print("--- web's /clusters\n" + pods.admin("web", "/clusters")[:1500])
            print("--- GET /v1/endpoints/shop/web\n" + pods.server("/v1/endpoints/shop/web")[:1500])
            print("--- GET /v1/status\n" + pods.server("/v1/status")[:1500])
        except Exception as more:  # what could be shown was shown
            print(f"(no more detail: {more})")
        for name in ("web-proxy", "rv1-proxy", "store-proxy", "serve"):
            path = os.path.join(pods.logs, name + ".log")
            if os.path.exists(path):
                print(f"--- {name} (last lines)")
                print("".join(open(path).readlines()[-15:]))
    finally:
        pods.cleanup(keep=failed)
    ok = sum(1 for r in pods.results if r[0])
    print(f"transparent: {ok}/{len(pods.results)} checks passed{'' if not failed else ', then a failure'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
