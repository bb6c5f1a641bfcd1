"""A small fault-injecting HTTP/1.1 proxy for the remote-fault tests (loopback only).

It forwards every request to one upstream (the moto S3 emulator) and, where a rule says so,
answers with an error status instead, resets the connection in the middle of the body, sends a
truncated body (full Content-Length promised, fewer bytes sent, then a clean close), or answers
slowly (a delay before the headers, or a body trickled out in pieces). Bounded: at most
`max_connections` connections at once, socket timeouts on both sides, bodies read whole (the
test objects are a few MB at most).
"""
from __future__ import annotations

import dataclasses
import http.client
import select
import socket
import socketserver
import struct
import threading
import time
from typing import Callable, Optional


@dataclasses.dataclass
class Request:
    n: int                      # 1-based number of the request the proxy has seen
    method: str
    target: str                 # path and query, as sent
    headers: dict               # lower-case names
    body: bytes
    generation: int = 0         # of the rule set it was seen under

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def range(self) -> Optional[str]:
        return self.headers.get("range")


# Actions. Status is decided before forwarding (the upstream never sees the request); the
# others act on the upstream's response.
@dataclasses.dataclass
class Status:
    code: int = 503


@dataclasses.dataclass
class Reset:
    fraction: float = 0.5       # of the body sent before the RST


@dataclasses.dataclass
class Truncate:
    fraction: float = 0.5       # of the body sent before a clean close


@dataclasses.dataclass
class Hangup:
    """Read the request, then reset the connection without answering; `after_upstream`: the
    request was forwarded first (a PUT is done, but its client never hears so)."""
    after_upstream: bool = False


@dataclasses.dataclass
class Stall:
    seconds: float = 20.0       # no answer for this long, then a reset (a hung server)


@dataclasses.dataclass
class Delay:
    seconds: float = 1.0        # before the status line


@dataclasses.dataclass
class Trickle:
    pieces: int = 8
    interval: float = 0.1       # between pieces


class Rule:
    """Inject `action` into the requests `match` selects: the first `first` of them, or every
    `every`-th, or all (neither given); at most `limit` times in all."""

    def __init__(self, action, match: Callable[[Request], bool] = lambda r: True,
                 first: Optional[int] = None, every: Optional[int] = None,
                 limit: Optional[int] = None, min_body: int = 0):
        self.action, self.match, self.first, self.every, self.limit = action, match, first, every, limit
        self.min_body = min_body  # body actions: only responses with at least this many bytes
        self.seen = 0
        self.fired = 0

    @property
    def before_upstream(self) -> bool:
        return isinstance(self.action, (Status, Stall)) or (
            isinstance(self.action, Hangup) and not self.action.after_upstream)

    def fires(self, req: Request, body_len: Optional[int] = None) -> bool:
        if not self.match(req):
            return False
        if body_len is not None and isinstance(self.action, (Reset, Truncate, Trickle)) \
                and body_len < max(self.min_body, 2):
            return False
        self.seen += 1
        if self.limit is not None and self.fired >= self.limit:
            return False
        if self.first is not None:
            hit = self.seen <= self.first
        elif self.every is not None:
            hit = self.seen % self.every == 0
        else:
            hit = True
        if hit:
            self.fired += 1
        return hit


FAULTS = ("status", "reset", "truncated", "stalled")  # log entries a client must retry
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class FaultProxy:
    def __init__(self, upstream_port: int, max_connections: int = 64, timeout: float = 30.0):
        self.upstream_port = upstream_port
        self.timeout = timeout
        self.rules: list[Rule] = []
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(max_connections)
        self.log: list[tuple] = []   # (n, method, target, range, what was sent)
        self._pending: dict = {}     # (method, path) → faults not yet followed by a repeat
        self.retries = 0
        self.errors: list[str] = []  # exceptions in the proxy itself
        self.generation = 0
        self._closing = threading.Event()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                if not proxy.slots.acquire(timeout=proxy.timeout):
                    return
                try:
                    proxy._serve(self.request)
                except Exception as e:  # noqa: BLE001 - recorded, the tests assert none
                    with proxy.lock:
                        proxy.errors.append(repr(e))
                finally:
                    proxy.slots.release()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # ---- control ----------------------------------------------------------------------------
    def set_rules(self, *rules: Rule):
        with self.lock:
            self.rules = list(rules)
            self.generation += 1
            self.log = []
            self._pending = {}
            self.retries = 0

    @property
    def requests(self) -> int:
        with self.lock:
            return sum(1 for e in self.log if e)

    @property
    def faults(self) -> int:
        with self.lock:
            return sum(1 for e in self.log if e and e[4].startswith(FAULTS))

    def close(self):
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    # ---- serving ----------------------------------------------------------------------------
    def _serve(self, conn: socket.socket):
        conn.settimeout(self.timeout)
        f = conn.makefile("rb")
        try:
            while True:
                req = self._read_request(f)
                if req is None:
                    return
                if not self._answer(conn, req):
                    return
        except (OSError, ValueError):
            return
        finally:
            try:
                f.close()
                conn.close()
            except OSError:
                pass

    def _read_request(self, f) -> Optional[Request]:
        line = f.readline(65537)
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers = {}
        while True:
            h = f.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            k, v = h.decode("latin-1").split(":", 1)
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int(f.readline(1024).split(b";")[0], 16)
                if size == 0:
                    while f.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += f.read(size)
                f.readline(3)
            body = bytes(body)
            del headers["transfer-encoding"]
            headers["content-length"] = str(len(body))
        else:
            body = f.read(int(headers.get("content-length", "0") or 0))
        with self.lock:
            n = len(self.log) + 1
            self.log.append(None)  # reserve the slot; filled in when answered
            return Request(n, method, target, headers, body, self.generation)

    def _record(self, req: Request, what: str):
        with self.lock:
            if req.generation != self.generation:
                return  # answered after its run ended (a stalled request)
            key = (req.method, req.path)
            if self._pending.get(key):
                self._pending[key] -= 1
                self.retries += 1
            if what.startswith(FAULTS):
                self._pending[key] = self._pending.get(key, 0) + 1
            self.log[req.n - 1] = (req.n, req.method, req.target, req.range, what)

    def _pick(self, req: Request, body_len: Optional[int]):
        with self.lock:
            for rule in self.rules:
                if rule.before_upstream == (body_len is None) and rule.fires(req, body_len):
                    return rule.action
        return None

    def _hangup(self, conn: socket.socket, req: Request, what: str) -> bool:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._record(req, what)
        return False

    def _answer(self, conn: socket.socket, req: Request) -> bool:
        action = self._pick(req, None)
        if isinstance(action, Hangup):
            return self._hangup(conn, req, "reset before upstream")
        if isinstance(action, Stall):
            deadline = time.monotonic() + action.seconds
            while time.monotonic() < deadline and not self._closing.is_set():
                readable, _, _ = select.select([conn], [], [], 0.05)
                if readable and not conn.recv(1, socket.MSG_PEEK):
                    break  # the client gave up
            return self._hangup(conn, req, f"stalled {action.seconds:g}s")
        if isinstance(action, Status):
            code = action.code
            name = {500: "InternalError", 503: "SlowDown"}.get(code, "InternalError")
            body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{name}</Code>'
                    f"<Message>injected by faultproxy</Message></Error>").encode()
            if req.method == "HEAD":
                body = b""
            head = (f"HTTP/1.1 {code} {http.client.responses.get(code, 'Error')}\r\n"
                    f"Content-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n")
            conn.sendall(head.encode() + body)
            self._record(req, f"status {code}")
            return True
        status, reason, headers, body = self._forward(req)
        action = self._pick(req, len(body) if req.method != "HEAD" else 0)
        if isinstance(action, Hangup):
            return self._hangup(conn, req, "reset after upstream")
        out_headers = [(k, v) for k, v in headers if k.lower() not in _HOP and k.lower() != "content-length"]
        length = next((v for k, v in headers if k.lower() == "content-length"), None) if req.method == "HEAD" else str(len(body))
        if length is not None:
            out_headers.append(("Content-Length", length))
        out_headers.append(("Connection", "keep-alive"))
        head = (f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in out_headers) + "\r\n").encode("latin-1")
        if isinstance(action, Delay):
            time.sleep(action.seconds)
        if isinstance(action, (Reset, Truncate)):
            cut = max(1, min(len(body) - 1, int(len(body) * action.fraction)))
            conn.sendall(head + body[:cut])
            if isinstance(action, Reset):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self._record(req, f"reset after {cut}/{len(body)}")
            else:
                conn.shutdown(socket.SHUT_WR)
                self._record(req, f"truncated {cut}/{len(body)}")
            return False
        if isinstance(action, Trickle):
            conn.sendall(head)
            step = max(1, -(-len(body) // action.pieces))
            for i in range(0, len(body), step):
                time.sleep(action.interval)
                conn.sendall(body[i:i + step])
            self._record(req, f"trickled {len(body)} in {action.pieces}")
            return True
        conn.sendall(head + body)
        self._record(req, "delayed" if isinstance(action, Delay) else "ok")
        return True

    def _forward(self, req: Request):
        up = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=self.timeout)
        try:
            headers = {k: v for k, v in req.headers.items() if k not in _HOP}
            up.putrequest(req.method, req.target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                up.putheader(k, v)
            up.endheaders(req.body or None)
            r = up.getresponse()
            body = r.read()
            return r.status, r.reason, r.getheaders(), body
        finally:
            up.close()
