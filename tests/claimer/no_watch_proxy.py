#!/usr/bin/env python3
"""Pass etcd's JSON gateway through, except watches, which get a 503.

Lets a test see the claimer fall back to retrying on renewals while
every other request still reaches etcd.  Prints "ready" once it
listens.
"""
import argparse
import http.server
import sys
import urllib.error
import urllib.request


def handler(upstream):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path.startswith("/v3/watch"):
                self.answer(503, b'{"error":"no watches here","code":14}')
                return
            req = urllib.request.Request(upstream + self.path, data=body,
                headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    self.answer(r.status, r.read())
            except urllib.error.HTTPError as e:
                self.answer(e.code, e.read())

    return Handler


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True, help="host:port")
    p.add_argument("--upstream", required=True, help="etcd base URL")
    a = p.parse_args()
    host, port = a.listen.rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host, int(port)),
        handler(a.upstream))
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
