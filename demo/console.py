"""The console's companions for the demo and the tests: a real Prometheus that follows the
fleet through `meshc serve`'s HTTP service discovery, and headless Chromium driven over the
Chrome DevTools protocol (a small WebSocket client of our own: no Selenium, no driver).

    prom = Prometheus(work, logs, server_url, ca_file)       # scrapes every proxy
    with Chromium(work) as browser:
        browser.open("https://127.0.0.1:8443/console/#graph")
        browser.wait_for("document.body.dataset.rendered === 'graph'")
        browser.evaluate("document.querySelectorAll('.edge').length")
        browser.screenshot("out/graph.png")
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop(process):
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def prometheus_binary():
    return shutil.which("prometheus") or ("/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Prometheus:
    """Debian's prometheus, scraping what `GET /v1/prometheus/targets` lists, every second."""

    def __init__(self, work, logs, server_url, ca_file=None, port=None, host="127.0.0.1", prefix=(), wait=True):
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        conf = os.path.join(work, "prometheus.yml")
        tls = f"\n    tls_config:\n      ca_file: {ca_file}" if ca_file else ""
        open(conf, "w").write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
- job_name: mesh
  http_sd_configs:
  - url: {server_url}/v1/prometheus/targets
    refresh_interval: 2s{tls}
""")
        log = open(os.path.join(logs, "prometheus.log"), "w")
        # `prefix`: run it elsewhere (`ip netns exec NS` in the transparent demo's bridge).
        self.process = subprocess.Popen([*prefix, prometheus_binary(), f"--config.file={conf}", f"--storage.tsdb.path={work}/prometheus-data",
                                         f"--web.listen-address={host}:{self.port}", "--log.level=warn"],
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not wait:
            return
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prometheus did not start (see prometheus.log)")

    def query(self, promql):
        q = urllib.parse.quote(promql)
        with urllib.request.urlopen(f"{self.url}/api/v1/query?query={q}", timeout=10) as r:
            return json.loads(r.read())["data"]["result"]

    def targets_up(self):
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as r:
            return [t for t in json.loads(r.read())["data"]["activeTargets"] if t["health"] == "up"]

    def stop(self):
        stop(self.process)


class WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: masked text frames out, text frames
    (possibly fragmented, possibly megabytes: screenshots) in."""

    def __init__(self, url, timeout=60):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(f"DevTools refused the WebSocket: {head[:200]!r}")
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text):
        data = text.encode()
        header = bytearray([0x81])
        n = len(data)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def receive(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("the browser closed the DevTools connection")
            if opcode in (0x9, 0xA):
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()


class Chromium:
    """Headless Chromium with a page to drive (Chrome DevTools protocol)."""

    def __init__(self, work, width=1600, height=1000):
        self.profile = os.path.join(work, f"chromium-{os.getpid()}-{free_port()}")
        os.makedirs(self.profile, exist_ok=True)
        self.process = subprocess.Popen([chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                         "--disable-dev-shm-usage", f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
                                         # The server's certificate comes from the mesh's own CA.
                                         "--ignore-certificate-errors", f"--window-size={width},{height}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.loads(r.read()) if t["type"] == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url):
        self.call("Page.navigate", url=url)

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression[:80]}: {r['exceptionDetails'].get('text')} {r['exceptionDetails'].get('exception', {}).get('description', '')}")
        return r["result"].get("value")

    def wait_for(self, expression, timeout=30):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                value = self.evaluate(expression)
                if value:
                    return value
            except RuntimeError as e:
                last = e
            time.sleep(0.1)
        raise TimeoutError(f"not within {timeout} s: {expression}" + (f" ({last})" if last else ""))

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        open(path, "wb").write(base64.b64decode(data))
        return path

    def close(self):
        stop(self.process)
        shutil.rmtree(self.profile, ignore_errors=True)


def main(argv):
    """`console.py shot URL OUT.png [READY_JS]`: a screenshot of a console view once READY_JS
    holds (default: the view has rendered) — what the demos run, in whatever network
    namespace the console is reachable from."""
    import sys
    if len(argv) < 3 or argv[0] != "shot":
        sys.exit(main.__doc__)
    url, out = argv[1], argv[2]
    ready = argv[3] if len(argv) > 3 else "document.body.dataset.rendered && document.querySelectorAll('#graph .node').length > 0"
    work = os.path.dirname(os.path.abspath(out)) or "."
    with Chromium(work) as browser:
        browser.open(url)
        browser.wait_for(ready, timeout=60)
        browser.screenshot(out)
    print(out)


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
