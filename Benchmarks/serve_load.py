#!/usr/bin/env python3
"""Load generator for Benchmarks/serve.sh: one process holds N long polls
(`If-None-Match` + `Prefer: wait=120`) on bundles of every workload, then commits a change
and calls the webhook; each watcher's time from the webhook to its 200 is recorded.
Server RSS (VmHWM, VmRSS) and CPU time (utime + stime) come from /proc."""
import asyncio, json, os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

MESHC = os.path.abspath(sys.argv[1])
COUNTS = [int(c) for c in sys.argv[2:]] or [100, 1000]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = ["shop/orders-v1", "shop/orders-v2", "shop/catalog", "payments/payments", "web/frontend"]

def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@e"})

def proc_stats(pid):
    status = open(f"/proc/{pid}/status").read()
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return hwm, rss, cpu

def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.status, dict(r.headers), r.read()

async def watch(port, workload, etag, ready, results, t0):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /v1/bundles/{workload} HTTP/1.1\r\nHost: b\r\nIf-None-Match: {etag}\r\nPrefer: wait=120\r\n\r\n".encode())
    await writer.drain()
    ready.append(1)
    head = await reader.readuntil(b"\r\n\r\n")
    done = time.monotonic()
    status = int(head.split(b" ")[1])
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
    await reader.readexactly(length)
    results.append((status, done))
    writer.close()

async def round_(port, repo, n, weight):
    etags = {w: get(port, f"/v1/bundles/{w}")[1]["etag"] for w in WORKLOADS}
    ready, results = [], []
    tasks = [asyncio.create_task(watch(port, WORKLOADS[i % len(WORKLOADS)], etags[WORKLOADS[i % len(WORKLOADS)]], ready, results, None)) for i in range(n)]
    # Every watcher is held by the server before the commit.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        metrics = get(port, "/metrics")[2].decode()
        m = re.search(r"^meshc_long_poll_waiters (\S+)", metrics, re.M)
        if len(ready) == n and m and float(m.group(1)) >= n:
            break
    path = os.path.join(repo, "shop", "orders.yaml")
    text = open(path).read()
    text = re.sub(r"weight: \d+\n(\s+- destination:\n\s+host: orders\n\s+subset: v2\n\s+)weight: \d+",
                  f"weight: {100 - weight}\n\\1weight: {weight}", text)
    open(path, "w").write(text)
    git("commit", "-qam", f"canary {weight}", cwd=repo)
    t0 = time.monotonic()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/hooks/git", method="POST", data=b"{}")
    urllib.request.urlopen(req, timeout=10).read()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    latencies = sorted(done - t0 for status, done in results if status == 200)
    bad = sum(1 for status, _ in results if status != 200)
    return latencies, bad

def main():
    tmp = tempfile.mkdtemp(prefix="meshc-serve-bench-")
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
        while port is None:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", server.stderr.readline())
            port = int(m.group(1)) if m else None
        while True:
            try:
                if get(port, "/readyz")[0] == 200: break
            except Exception: pass
            time.sleep(0.05)
        print(f"{'watchers':>8} {'p50_ms':>8} {'p99_ms':>8} {'max_ms':>8} {'non200':>6} {'publish_ms':>10} {'rss_MB':>7} {'peak_MB':>8} {'cpu_s':>6}")
        weight = 10
        for n in COUNTS:
            weight = 20 if weight != 20 else 30
            _, _, cpu0 = proc_stats(server.pid)
            latencies, bad = asyncio.run(round_(port, repo, n, weight))
            hwm, rss, cpu1 = proc_stats(server.pid)
            revisions = json.loads(get(port, "/v1/revisions")[2])
            publish = sum(revisions["revisions"][0]["seconds"].values()) * 1000
            q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
            print(f"{n:>8} {q(0.5):>8.1f} {q(0.99):>8.1f} {latencies[-1] * 1000:>8.1f} {bad:>6} {publish:>10.1f} {rss:>7.1f} {hwm:>8.1f} {cpu1 - cpu0:>6.2f}")
        server.terminate()
        server.wait(timeout=10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

main()
