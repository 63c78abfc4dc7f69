#!/usr/bin/env python3
"""The demo's application: an HTTP server that answers every request with its workload name
and version as JSON. `--fail-ratio R` makes it answer 503 to that share of requests (a
failing instance, for the retry part of the demo).

    demo/app.py --workload orders-v1 --version v1 --listen 127.0.0.1:9080 [--fail-ratio 1.0]
"""
import argparse
import json
import random
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workload", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--listen", required=True, help="host:port")
    p.add_argument("--fail-ratio", type=float, default=0.0)
    a = p.parse_args()
    host, port = a.listen.rsplit(":", 1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self):
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            failing = random.random() < a.fail_ratio
            body = json.dumps({"workload": a.workload, "version": a.version, "path": self.path,
                               "failing": failing}).encode() + b"\n"
            self.send_response(503 if failing else 200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = answer

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
