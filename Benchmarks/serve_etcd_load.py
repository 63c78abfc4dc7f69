#!/usr/bin/env python3
"""Load generator for `Benchmarks/serve.sh --store etcd`: two `meshc serve` replicas sharing
an etcd member, and N simulated proxies (default 10,000) spread across them over real
sockets — each holds a long poll on its bundle and reports every report interval, as
mesh-proxy does. Measures:

  commit → applied   from the webhook (to one replica only: the other hears of the new
                     revision through etcd) to each proxy's long poll answered: p50, p99
  endpoint change    M endpoint long polls per replica, one new instance reported to replica
                     A: each waiter's wake-up, p50/p99, on A and on B (through etcd's watch)
  etcd at steady     writes and lease renewals per second (etcd's own counters) while every
                     proxy reports and nothing changes
  RSS                of each replica (VmHWM, VmRSS)

    Benchmarks/serve_etcd_load.py MESHC [PROXIES] [ENDPOINT_WAITERS]
"""
import asyncio, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

MESHC = os.path.abspath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
M = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000
REPORT = 10  # seconds, as mesh-proxy's default
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = ["shop/orders-v1", "shop/orders-v2", "shop/catalog", "payments/payments", "web/frontend"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@e"})


def rss(pid):
    status = open(f"/proc/{pid}/status").read()
    return (int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024, int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)


def http(port, path, method="GET", body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, dict((k.lower(), v) for k, v in r.headers.items()), r.read()


def etcd_counters(port):
    text = http(port, "/metrics")[2].decode()
    def total(name):
        return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))
    # Writes: puts and txns that reached the store; renewals: lease keep-alives.
    return total("etcd_mvcc_put_total") + total("etcd_mvcc_txn_total"), total("etcd_debugging_lease_renewed_total")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def report_body(i, version, address=None):
    w = WORKLOADS[i % len(WORKLOADS)]
    return json.dumps({"workload": w, "instance": f"sim-{i}", "address": address or f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:15006",
                       "state": "applied", "version": version}).encode()


class Conn:
    """One kept-alive HTTP/1.1 connection (asyncio streams)."""

    def __init__(self, port):
        self.port = port
        self.r = self.w = None

    async def request(self, method, path, body=b"", headers=()):
        if self.w is None:
            self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
        h = "".join(f"{k}: {v}\r\n" for k, v in headers)
        self.w.write(f"{method} {path} HTTP/1.1\r\nHost: b\r\n{h}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await self.w.drain()
        head = await self.r.readuntil(b"\r\n\r\n")
        # When the answer started to arrive: a megabyte list then takes the client a while
        # to read, which is the client's time, not the server's.
        self.head_at = time.monotonic()
        status = int(head.split(b" ")[1])
        m = re.search(rb"content-length: (\d+)", head, re.I)
        data = await self.r.readexactly(int(m.group(1))) if m else b""
        etag = re.search(rb"etag: (\S+)", head, re.I)
        return status, (etag.group(1).decode() if etag else None), data


async def reporters(ports, version, stop, counts):
    """Every simulated proxy reports every REPORT seconds, spread over the interval, on 64
    kept-alive connections per replica."""
    per = 64
    conns = [Conn(ports[k % 2]) for k in range(2 * per)]
    async def lane(k):
        c = conns[k]
        mine = [i for i in range(N) if i % len(conns) == k]
        while not stop.is_set():
            start = time.monotonic()
            for j, i in enumerate(mine):
                if stop.is_set():
                    return
                status, _, _ = await c.request("POST", "/v1/status", report_body(i, version[0]))
                counts[status] = counts.get(status, 0) + 1
                # Spread: each lane's reports over the interval.
                due = start + REPORT * (j + 1) / len(mine)
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
    await asyncio.gather(*(lane(k) for k in range(len(conns))))


async def long_poll(port, path, etag, ready, results):
    c = Conn(port)
    c.r, c.w = await asyncio.open_connection("127.0.0.1", port)
    task = asyncio.create_task(c.request("GET", path, headers=[("If-None-Match", etag), ("Prefer", "wait=120")]))
    ready.append(1)
    status, _, body = await task
    results.append((port, status, c.head_at, body) if path.startswith("/v1/endpoints") else (status, time.monotonic(), body))
    c.w.close()


async def held(port, n, endpoints=False):
    text = http(port, "/metrics")[2].decode()
    m = re.search(r"^meshc_long_poll_waiters (\S+)", text, re.M)
    return m and float(m.group(1)) >= n


def endpoint_change(ports, m, version, queue):
    async def run():
        ready, results = [], []
        etag = {p: http(p, "/v1/endpoints/web/frontend")[1]["etag"] for p in ports}
        polls = [asyncio.create_task(long_poll(ports[i % 2], "/v1/endpoints/web/frontend", etag[ports[i % 2]], ready, results)) for i in range(2 * m)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (await held(ports[0], m) and await held(ports[1], m)):
            await asyncio.sleep(0.05)
        t0 = time.monotonic()
        c = Conn(ports[0])
        body = json.dumps({"workload": "shop/orders-v1", "instance": "new-one", "address": "10.9.9.9:15006", "state": "applied", "version": version}).encode()
        status, _, _ = await c.request("POST", "/v1/status", body)
        posted = (time.monotonic() - t0) * 1000
        await asyncio.wait_for(asyncio.gather(*polls), timeout=120)
        woke_a = [(at - t0) * 1000 for p, s, at, b in results if s == 200 and b"new-one" in b and p == ports[0]]
        woke_b = [(at - t0) * 1000 for p, s, at, b in results if s == 200 and b"new-one" in b and p == ports[1]]
        size = max((len(b) for _, _, _, b in results), default=0)
        return (f"({2 * m} endpoint lists of {size / 1e6:.2f} MB each) endpoint change reported to A (answered {status} in {posted:.0f} ms) → long polls woken with it: "
                f"A {len(woke_a)}/{m} p50 {pct(woke_a, 0.5):.0f} ms p99 {pct(woke_a, 0.99):.0f} ms; "
                f"B (through etcd) {len(woke_b)}/{m} p50 {pct(woke_b, 0.5):.0f} ms p99 {pct(woke_b, 0.99):.0f} ms")
    queue.put(asyncio.run(run()))


async def main():
    work = tempfile.mkdtemp(prefix="meshc-serve-etcd-")
    procs = []
    try:
        # etcd, one member (the replicas' store; a 3-member cluster is the reliability suite's).
        ec, ep = free_port(), free_port()
        etcd = shutil.which("etcd") or "/usr/bin/etcd"
        procs.append(subprocess.Popen([etcd, "--name", "b", "--data-dir", f"{work}/etcd", "--listen-client-urls", f"http://127.0.0.1:{ec}",
                                       "--advertise-client-urls", f"http://127.0.0.1:{ec}", "--listen-peer-urls", f"http://127.0.0.1:{ep}",
                                       "--initial-advertise-peer-urls", f"http://127.0.0.1:{ep}", "--initial-cluster", f"b=http://127.0.0.1:{ep}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        repo = f"{work}/repo"
        shutil.copytree(os.path.join(ROOT, "policies"), repo, ignore=shutil.ignore_patterns("broken"))
        git("init", "-q", "-b", "main", cwd=repo)
        git("add", "-A", cwd=repo)
        git("commit", "-qm", "mesh", cwd=repo)
        subprocess.run([MESHC, "keygen", "--out", f"{work}/keys"], check=True, capture_output=True)
        ports = [free_port(), free_port()]
        servers = []
        for k, port in enumerate(ports):
            p = subprocess.Popen([MESHC, "serve", "--repo", repo, "--key", f"{work}/keys/signing.key", "--listen", f"127.0.0.1:{port}",
                                  "--data-dir", f"{work}/serve{k}", "--plaintext", "--poll-interval", "3600s", "--report-interval", f"{REPORT}s",
                                  "--store", f"etcd://127.0.0.1:{ec}"], stdout=subprocess.DEVNULL, stderr=open(f"{work}/serve{k}.log", "w"))
            procs.append(p)
            servers.append(p)
        for port in ports:
            for _ in range(300):
                try:
                    if http(port, "/readyz")[0] == 200:
                        break
                except OSError:
                    pass
                await asyncio.sleep(0.1)
        version = [json.loads(http(ports[0], "/v1/revisions")[2])["serving"]["version"]]

        # Every proxy announces itself, then reports on its interval.
        t = time.monotonic()
        stop = asyncio.Event()
        counts = {}
        rep = asyncio.create_task(reporters(ports, version, stop, counts))
        while sum(counts.values()) < N:
            await asyncio.sleep(0.2)
        registered = time.monotonic() - t
        live = [int(float(re.search(r"^meshc_registry_live_instances (\S+)", http(p, "/metrics")[2].decode(), re.M).group(1))) for p in ports]
        print(f"{N} proxies announced in {registered:.1f} s (reports {counts}); live at each replica: {live}")

        # Steady state: nothing changes; count etcd's writes and renewals for 20 s.
        await asyncio.sleep(2)
        w0, r0 = etcd_counters(ec)
        t0 = time.monotonic()
        await asyncio.sleep(20)
        w1, r1 = etcd_counters(ec)
        dt = time.monotonic() - t0
        print(f"steady state: {(w1 - w0) / dt:.1f} etcd writes/s, {(r1 - r0) / dt:.0f} lease renewals/s ({N} proxies every {REPORT} s)")

        # Commit → applied: every proxy's bundle long poll, half at each replica.
        etags = {w: http(ports[0], f"/v1/bundles/{w}")[1]["etag"] for w in WORKLOADS}
        ready, results = [], []
        polls = [asyncio.create_task(long_poll(ports[i % 2], f"/v1/bundles/{WORKLOADS[i % len(WORKLOADS)]}", etags[WORKLOADS[i % len(WORKLOADS)]], ready, results))
                 for i in range(N)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (len(ready) == N and await held(ports[0], N // 2) and await held(ports[1], N // 2)):
            await asyncio.sleep(0.1)
        path = os.path.join(repo, "shop", "orders.yaml")
        text = open(path).read()
        text = re.sub(r"(subset: v1\n\s+weight: )\d+", r"\g<1>70", text)
        text = re.sub(r"(subset: v2\n\s+weight: )\d+", r"\g<1>30", text)
        open(path, "w").write(text)
        git("commit", "-qam", "canary 30", cwd=repo)
        t0 = time.monotonic()
        http(ports[0], "/v1/hooks/git", method="POST", body=b"")  # replica A only: B learns through etcd
        await asyncio.wait_for(asyncio.gather(*polls), timeout=120)
        lat = [(at - t0) * 1000 for status, at, _ in results if status == 200]
        print(f"commit → applied, {N} proxies over 2 replicas (webhook to one): p50 {pct(lat, 0.5):.0f} ms, p99 {pct(lat, 0.99):.0f} ms, "
              f"max {max(lat):.0f} ms; {len(lat)}/{N} got the new bundle")
        version[0] = json.loads(http(ports[1], "/v1/revisions")[2])["serving"]["version"]

        # Endpoint change: M endpoint long polls per replica, one new instance reported to A —
        # measured in a process of its own, so the reporters' load does not delay its clock.
        import multiprocessing
        queue = multiprocessing.Queue()
        measure = multiprocessing.Process(target=endpoint_change, args=(ports, M, version[0], queue))
        measure.start()
        while measure.is_alive():
            await asyncio.sleep(0.2)
        print(queue.get() if not queue.empty() else "endpoint change: the measuring process failed")
        stop.set()
        rep.cancel()
        if os.environ.get("SHOW_LOGS"):
            for line in http(ports[0], "/metrics")[2].decode().splitlines():
                if 'route="status"' in line or 'route="endpoints"' in line:
                    print(line)
        for k, p in enumerate(servers):
            hwm, now = rss(p.pid)
            print(f"replica {'AB'[k]}: RSS {now:.0f} MB (peak {hwm:.0f} MB)")
        etcd_rss = rss(procs[0].pid)
        print(f"etcd: RSS {etcd_rss[1]:.0f} MB; keys under /meshc/: {N + 2}")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for k in range(2):
            path = f"{work}/serve{k}.log"
            if os.path.exists(path) and os.environ.get("SHOW_LOGS"):
                print(f"--- replica {'AB'[k]}'s log (last lines)\n" + "".join(open(path).readlines()[-12:]))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
