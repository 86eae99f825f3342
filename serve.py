#!/usr/bin/env python3
"""skinlens dev server: build ``dist/`` and serve it like a static host would, plus the
cross-origin isolation headers (COOP/COEP) that WASM threads need and the security headers
of ``security.py`` (Content-Security-Policy, Permissions-Policy, Referrer-Policy,
X-Content-Type-Options: the same policy the pages' <meta> tags and the service worker carry).

    python serve.py [--port 8000] [--host 127.0.0.1] [--base /sub/path/]
                    [--no-isolation-headers] [--no-security-headers] [--log FILE]
                    [--no-build] [--offline]

The tests and benchmarks start it in a thread (:func:`make_server`, :func:`running_server`)
on a free port, with a request log.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import socket
import sys
import threading
import urllib.parse
from pathlib import Path

import security
from build import DIST_DIR, BuildError, build

MIME = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".bin": "application/octet-stream",
    ".py": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".md": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".y4m": "application/octet-stream",
}


def normalize_base(base: str) -> str:
    base = "/" + base.strip("/")
    return base if base == "/" else base + "/"


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with isolation headers, a sub-path and a request log."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME}  # noqa: RUF012
    base = "/"
    isolation = True
    security_headers: dict[str, str] = {}  # noqa: RUF012 (set per server by make_server)
    log_path: Path | None = None
    log_lock = threading.Lock()
    protocol_version = "HTTP/1.1"

    serve_dir = "."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=self.serve_dir, **kwargs)

    def _strip_base(self) -> bool:
        """Rewrite self.path to be relative to the base; False when outside it."""
        if self.base == "/":
            return True
        raw = urllib.parse.urlsplit(self.path).path
        if raw == self.base.rstrip("/"):
            self.send_response(301)
            self.send_header("Location", self.base)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        if not raw.startswith(self.base):
            self.send_error(404, "outside the base path")
            return False
        self.path = "/" + self.path[len(self.base) :]
        return True

    path_original = "-"

    def do_GET(self):
        self._status, self._body_len = None, 0
        if self._strip_base():
            super().do_GET()
        self.server.record(self.command, self.path_original, self._status, self._body_len)

    def do_HEAD(self):
        self._status = None
        if self._strip_base():
            super().do_HEAD()
        self.server.record(self.command, self.path_original, self._status, 0)

    def send_header(self, keyword, value):
        if keyword.lower() == "content-length":
            self._body_len = int(value)
        super().send_header(keyword, value)

    def end_headers(self):
        if self.isolation:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        for name, value in self.security_headers.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_request(self, code="-", size="-"):
        code = getattr(code, "value", code)
        self._status = code
        if self.log_path is not None:
            line = f"{self.command} {self.path_original} {code}\n"
            with self.log_lock, open(self.log_path, "a") as f:
                f.write(line)

    def parse_request(self):
        ok = super().parse_request()
        self.path_original = self.path
        return ok

    def log_message(self, format, *args):  # keep the console quiet
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *args, **kwargs):
        self._conns: set = set()
        self._conns_lock = threading.Lock()
        self.transfers: list[tuple[str, str, object, int]] = []  # (method, path, status, bytes)
        super().__init__(*args, **kwargs)

    def record(self, method: str, path: str, status, nbytes: int) -> None:
        with self._conns_lock:
            self.transfers.append((method, path, status, nbytes))

    @property
    def bytes_sent(self) -> int:
        """Response body bytes sent so far (headers not counted)."""
        with self._conns_lock:
            return sum(t[3] for t in self.transfers)

    def process_request(self, request, client_address):
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop open keep-alive connections (so a stopped server really is gone)."""
        with self._conns_lock:
            conns = list(self._conns)
            self._conns.clear()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{self.RequestHandlerClass.base}"

    def start(self) -> Server:
        """Serve in a daemon thread (for tests); stop with ``stop()``."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close the listening socket and every open connection."""
        self.shutdown()
        self.server_close()
        self.close_connections()


def make_server(
    dist: Path | str = DIST_DIR,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    base: str = "/",
    isolation: bool = True,
    security_headers: bool = True,
    log: Path | str | None = None,
) -> Server:
    """A not-yet-started server for ``dist``; ``port=0`` picks a free port (see ``.url``).
    ``security_headers=False`` serves like GitHub Pages, where only the pages' <meta> tags and
    the service worker carry the policy (the tests check that these alone enforce it)."""
    handler = type(
        "SkinlensHandler",
        (Handler,),
        {
            "base": normalize_base(base),
            "isolation": isolation,
            "security_headers": security.headers() if security_headers else {},
            "log_path": Path(log).resolve() if log else None,
            "log_lock": threading.Lock(),
            "serve_dir": str(Path(dist).resolve()),
        },
    )
    return Server((host, port), handler)


@contextlib.contextmanager
def running_server(dist: Path | str = DIST_DIR, **kwargs):
    srv = make_server(dist, **kwargs).start()
    try:
        yield srv
    finally:
        srv.stop()


def serve(
    dist: Path | str = DIST_DIR,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    base: str = "/",
    isolation: bool = True,
    security_headers: bool = True,
    log: str | None = None,
    do_build: bool = True,
    offline: bool = False,
) -> None:
    if do_build:
        build(offline=offline)
    try:
        srv = make_server(
            dist,
            host,
            port,
            base=base,
            isolation=isolation,
            security_headers=security_headers,
            log=log,
        )
    except OSError as e:
        raise BuildError(
            f"cannot listen on {host}:{port} ({e}); try --port 0 (any free port)"
        ) from e
    print(
        f"Serving {dist} at {srv.url}"
        f"{'' if isolation else ' (no COOP/COEP headers)'}"
        f"{'' if security_headers else ' (no security headers)'}  (Ctrl-C to stop)",
        flush=True,
    )
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    ap.add_argument("--base", default="/", help="serve under a sub-path, e.g. /skinlens/")
    ap.add_argument(
        "--no-isolation-headers",
        action="store_true",
        help="omit COOP/COEP/CORP (like GitHub Pages)",
    )
    ap.add_argument(
        "--no-security-headers",
        action="store_true",
        help="omit CSP/Permissions-Policy/... headers (the <meta> tags and sw.js still carry them)",
    )
    ap.add_argument("--log", help="append one line per request (METHOD PATH STATUS)")
    ap.add_argument("--no-build", action="store_true", help="serve dist/ as it is")
    ap.add_argument("--offline", action="store_true", help="build from the cache only")
    args = ap.parse_args(argv)
    try:
        serve(
            DIST_DIR,
            args.host,
            args.port,
            base=args.base,
            isolation=not args.no_isolation_headers,
            security_headers=not args.no_security_headers,
            log=args.log,
            do_build=not args.no_build,
            offline=args.offline,
        )
    except BuildError as e:
        print(f"\nFAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
