"""Serve the web app on a free loopback port in a thread (tests, screenshots, the benchmark),
and a tiny cookie-keeping HTTP client (urllib) that signs in like a browser's form does."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from .localbroker import free_port



class Served:
    def __init__(self, app, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # proxy headers are the app's own choice (its trusted proxies), not uvicorn's default 127.0.0.1
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                proxy_headers=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web app did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Client:
    """A browser-like HTTP client: keeps cookies, follows redirects, reads CSRF tokens."""

    def __init__(self, base: str, headers: dict | None = None):
        self.base = base
        self.headers = dict(headers or {})  # sent with every request (e.g. X-Forwarded-For, as a proxy would)
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path: str, data: dict | None = None, follow: bool = True):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=self.headers)
        opener = self.opener if follow else urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        try:
            with opener.open(req, timeout=600) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def get(self, path: str):
        return self.request(path)

    def csrf(self, path: str = "/login") -> str:
        _, _, body = self.get(path)
        return re.search(r'name="csrf" value="([^"]+)"', body.decode()).group(1)

    def login(self, username: str, password: str) -> int:
        status, _, _ = self.request("/login", {"username": username, "password": password,
                                               "csrf": self.csrf()}, follow=False)
        return status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
