"""A real OpenID Connect provider process for the tests (`oidc-provider-mock`, started on a free
port), and a small HTTP proxy in front of it that can tamper with what the app receives: the ID
token's claims changed without signing again, or the token endpoint answering as another issuer."""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from typing import Iterator

from kiosk_dev.procs import stop
from kiosk_dev.web_serve import free_port


@contextlib.contextmanager
def provider(token_max_age: int = 30) -> Iterator[str]:
    """`oidc-provider-mock` as a process on 127.0.0.1; its issuer URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port),
                             "--require-nonce", "true", "--token-max-age", str(token_max_age)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/.well-known/openid-configuration", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    out = proc.stdout.read() if proc.stdout else ""
                    raise RuntimeError(f"oidc-provider-mock did not start: {out}") from None
                time.sleep(0.2)
        yield url
    finally:
        stop(proc)


def set_user(issuer: str, sub: str, claims: dict) -> None:
    req = urllib.request.Request(f"{issuer}/users/{urllib.parse.quote(sub, safe='')}", method="PUT",
                                 data=json.dumps(claims).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 204


class Proxy:
    """Forwards to `upstream` with the Host header as the browser gave it (so the provider names
    the proxy as issuer). `mode`: None passes everything; "claims" rewrites the ID token's
    payload by `change` (signature kept); "issuer" sends the token request with the upstream's
    own Host (its ID token then names another issuer)."""

    def __init__(self, upstream: str):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.mode: str | None = None
        self.change: dict = {}
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "accept-encoding")}
                if proxy.mode == "issuer" and self.path.startswith("/oauth2/token"):
                    headers["Host"] = proxy.upstream.netloc
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if proxy.mode == "claims" and self.path.startswith("/oauth2/token") and resp.status == 200:
                    doc = json.loads(data)
                    doc["id_token"] = _tamper(doc["id_token"], proxy.change)
                    data = json.dumps(doc).encode()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Proxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tamper(token: str, change: dict) -> str:
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(change)
    return ".".join((head, _b64(json.dumps(claims).encode()), sig))
