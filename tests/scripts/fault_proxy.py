#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for S3 tests (standard library only).

    fault_proxy.py --upstream 127.0.0.1:PORT [--port 0] [--port-file F] [--rules JSON]
                   [--owner PID] [--max-seconds 900]

Listens on 127.0.0.1, forwards every request unchanged (headers included, so AWS signatures stay
valid) to the upstream S3 server, and injects faults by rules. A rule is a JSON object:

    {"fault": "slowdown" | "error500" | "stall" | "reset" | "lost_response" | "delay" | "hold",
     "method": "PUT",            optional: only this HTTP method
     "path": "regex",            optional: only paths (with query) matching this
     "skip": 0,                  let this many matching requests through first
     "times": 3,                 inject this many times (null or absent: forever)
     "every": 1,                 inject on every n-th matching request
     "seconds": 5}               stall / delay length

    slowdown       answer 503 SlowDown (the S3 throttling error) without forwarding
    error500       answer 500 InternalError without forwarding
    stall          hold the request `seconds` without answering, then close the connection
    reset          close the connection (RST) without forwarding
    lost_response  forward (the server applies it), then close without answering
    delay          forward, then wait `seconds` before answering (latency)
    hold           wait until the rules are replaced (at most `seconds`), then forward: lets a
                   test act while a run is parked at a known point

The first matching rule with budget left decides. Control endpoints (never S3 paths, since
bucket names cannot start with `_`): GET /__proxy/stats -> {"requests": N, "faults": {...}};
POST /__proxy/rules (body: JSON list) replaces the rules and zeroes the counts. The proxy exits when --owner's
process ends or after --max-seconds, whichever comes first.
"""
import argparse
import http.client
import json
import os
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
XML = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{msg}</Message></Error>'


class State:
    def __init__(self, rules):
        self.lock = threading.Lock()
        self.set_rules(rules)

    def set_rules(self, rules):
        with self.lock:
            self.rules = [dict(r, _seen=0, _done=0) for r in rules]
            self.generation = getattr(self, "generation", 0) + 1
            self.requests = 0
            self.faults = {}

    def decide(self, method, path):
        with self.lock:
            self.requests += 1
            for r in self.rules:
                if r.get("method") and r["method"] != method:
                    continue
                if r.get("path") and not re.search(r["path"], path):
                    continue
                r["_seen"] += 1
                if r["_seen"] <= r.get("skip", 0):
                    continue
                if r.get("times") is not None and r["_done"] >= r["times"]:
                    continue
                if (r["_seen"] - r.get("skip", 0) - 1) % max(1, r.get("every", 1)) != 0:
                    continue
                r["_done"] += 1
                self.faults[r["fault"]] = self.faults.get(r["fault"], 0) + 1
                return dict(r, _generation=self.generation)
            return None


STATE = None
UPSTREAM = None
LOCAL = threading.local()


def upstream():
    conn = getattr(LOCAL, "conn", None)
    if conn is None:
        host, port = UPSTREAM.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        LOCAL.conn = conn
    return conn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_raw(self, status, headers, body):
        self.send_response_only(status)
        for k, v in headers:
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)) if self.command != "HEAD" else next(
            (v for k, v in headers if k.lower() == "content-length"), "0"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def error(self, status, code, msg):
        body = XML.format(code=code, msg=msg).encode()
        self.send_raw(status, [("Content-Type", "application/xml")], body)

    def close_hard(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def control(self, body):
        if self.path == "/__proxy/stats":
            with STATE.lock:
                out = json.dumps({"requests": STATE.requests, "faults": STATE.faults}).encode()
            self.send_raw(200, [("Content-Type", "application/json")], out)
        elif self.path == "/__proxy/rules" and self.command == "POST":
            STATE.set_rules(json.loads(body or b"[]"))
            self.send_raw(200, [], b"ok")
        else:
            self.error(404, "NoSuchProxyEndpoint", self.path)

    def forward(self, body):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        for attempt in range(2):
            conn = upstream()
            try:
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.getheaders(), data
            except (http.client.HTTPException, OSError):
                conn.close()
                LOCAL.conn = None
                if attempt == 1:
                    raise

    def handle_any(self):
        body = self.read_body()
        if self.path.startswith("/__proxy/"):
            return self.control(body)
        rule = STATE.decide(self.command, self.path)
        fault = rule["fault"] if rule else None
        if fault == "slowdown":
            return self.error(503, "SlowDown", "Please reduce your request rate.")
        if fault == "error500":
            return self.error(500, "InternalError", "We encountered an internal error. Please try again.")
        if fault == "stall":
            time.sleep(float(rule.get("seconds", 30)))
            return self.close_hard()
        if fault == "reset":
            return self.close_hard()
        if fault == "hold":
            end = time.time() + float(rule.get("seconds", 60))
            while STATE.generation == rule["_generation"] and time.time() < end:
                time.sleep(0.02)
        try:
            status, headers, data = self.forward(body)
        except (http.client.HTTPException, OSError) as e:
            return self.error(502, "BadGateway", str(e))
        if fault == "lost_response":
            return self.close_hard()
        if fault == "delay":
            time.sleep(float(rule.get("seconds", 0.05)))
        self.send_raw(status, headers, data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    global STATE, UPSTREAM
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--rules", default="[]")
    ap.add_argument("--owner", type=int)
    ap.add_argument("--max-seconds", type=float, default=900)
    a = ap.parse_args()
    UPSTREAM = a.upstream
    STATE = State(json.loads(a.rules))
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, a.port_file)
    print(f"fault proxy on 127.0.0.1:{port} -> {UPSTREAM}", file=sys.stderr, flush=True)

    def watchdog():
        end = time.time() + a.max_seconds
        while time.time() < end:
            if a.owner:
                try:
                    os.kill(a.owner, 0)
                except OSError:
                    break
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
