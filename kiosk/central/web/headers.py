"""Security headers on every response of the web app (a plain ASGI middleware).

A Content-Security-Policy with no inline script or style (htmx and the page's own script are
files under /static), no framing (`frame-ancestors 'none'` and X-Frame-Options for old browsers),
`nosniff`, `Referrer-Policy: same-origin`, `Cache-Control: no-store` on pages and downloads (they
carry barcodes and operators; the vendored files under /static may be cached), and HSTS when the
request came over TLS (directly, or by a trusted proxy's X-Forwarded-Proto: `proxies`).
"""

from __future__ import annotations

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HSTS = "max-age=31536000"

COMMON = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
          (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
          (b"cross-origin-opener-policy", b"same-origin")]


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(COMMON)
        if not scope.get("path", "").startswith("/static/"):
            extra.append((b"cache-control", b"no-store"))
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS.encode()))
        names = {name for name, _ in extra}

        async def sending(message):
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, sending)
