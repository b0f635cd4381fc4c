#!/usr/bin/env python3
"""Test HTTP server for the feed poller tests (tests/ingest/test_rss.c).

usage: feed_server.py PORT DATA_DIR

Routes (files come from DATA_DIR, i.e. tests/data/feeds):
  /static/NAME            the file, with ETag and Last-Modified; answers 304 to a
                          matching If-None-Match or If-Modified-Since; gzip when
                          the client accepts it
  /slow/NAME?delay=S      sleeps S seconds, then serves the file
  /endless                a body that never ends (no Content-Length)
  /big                    declares a 100 MB Content-Length
  /loop                   redirects to itself forever
  /flaky/NAME?fail=N      HTTP 500 for the first N requests of this path, then the file
  /throttle/NAME?n=N&after=S[&status=503]   429 (or 503) with Retry-After: S for
                          the first N requests; after=date:S sends an HTTP date S
                          seconds ahead
  /seq/A,B,C              serves A on the first request, B on the second, ... (the
                          last one from then on); no validators
  /typed/DIR/NAME?type=T   DIR/NAME (one folder deep, e.g. charset/x.xml) with
                          Content-Type T (URL-encoded), no validators
  /stats                  JSON: {path: {"count": n, "headers": {last request headers}}}
"""
import email.utils
import gzip
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DATA = sys.argv[2] if len(sys.argv) > 2 else "."
LOCK = threading.Lock()
STATS = {}
LAST_MODIFIED = "Sat, 28 Nov 2026 12:00:00 GMT"


def count(path, headers):
    with LOCK:
        s = STATS.setdefault(path, {"count": 0, "headers": {}})
        s["count"] += 1
        s["headers"] = {k.lower(): v for k, v in headers.items()}
        return s["count"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("feed_server: " + (fmt % args) + "\n")

    def send_body(self, status, body, ctype="application/xml", extra=None):
        enc = None
        if "gzip" in self.headers.get("Accept-Encoding", "") and status == 200:
            body = gzip.compress(body)
            enc = "gzip"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if enc:
            self.send_header("Content-Encoding", enc)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_file(self, name):
        name = os.path.basename(name)
        with open(os.path.join(DATA, name), "rb") as f:
            return f.read()

    def serve_static(self, name):
        try:
            body = self.read_file(name)
        except OSError:
            return self.send_body(404, b"not found", "text/plain")
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in self.headers
            and self.headers.get("If-Modified-Since") == LAST_MODIFIED
        ):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_body(200, body, extra={"ETag": etag, "Last-Modified": LAST_MODIFIED})

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        parts = u.path.split("/")
        n = count(u.path, self.headers)
        route = parts[1] if len(parts) > 1 else ""
        if route == "stats":
            with LOCK:
                body = json.dumps(STATS).encode()
            return self.send_body(200, body, "application/json")
        if route == "static":
            return self.serve_static(parts[2])
        if route == "typed":
            sub, name = os.path.basename(parts[2]), os.path.basename(parts[3])
            try:
                with open(os.path.join(DATA, sub, name), "rb") as f:
                    body = f.read()
            except OSError:
                return self.send_body(404, b"not found", "text/plain")
            return self.send_body(200, body, q.get("type", "application/xml"))
        if route == "slow":
            time.sleep(float(q.get("delay", "5")))
            return self.serve_static(parts[2])
        if route == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"<rss><channel>" + b"<!-- padding -->" * 4096
            try:
                while True:
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        if route == "big":
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(100 * 1000 * 1000))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        if route == "loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if route == "flaky":
            if n <= int(q.get("fail", "1")):
                return self.send_body(500, b"boom", "text/plain")
            return self.serve_static(parts[2])
        if route == "throttle":
            if n <= int(q.get("n", "1")):
                after = q.get("after", "2")
                if after.startswith("date:"):  # an HTTP date that many seconds ahead
                    after = email.utils.formatdate(time.time() + float(after[5:]), usegmt=True)
                status = int(q.get("status", "429"))
                return self.send_body(status, b"slow down", "text/plain", {"Retry-After": after})
            return self.serve_static(parts[2])
        if route == "seq":
            names = parts[2].split(",")
            return self.send_body(200, self.read_file(names[min(n, len(names)) - 1]))
        return self.send_body(404, b"no route", "text/plain")


def main():
    port = int(sys.argv[1])
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
