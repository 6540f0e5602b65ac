"""Secrets in target URLs are never logged: `label(url)` is what logs and status show of a URL
(scheme and host only), `scrub(text, urls)` removes every secret part of those URLs from a text
(an error message from a library may quote the URL)."""

from __future__ import annotations

import re
import urllib.parse

_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def label(url: str) -> str:
    """`scheme://host[:port]/…` with no user, password, path, token or query."""
    try:
        p = urllib.parse.urlsplit(url)
        host = p.hostname or ""
        port = f":{p.port}" if p.port else ""
    except ValueError:
        return "<url>"
    scheme = p.scheme or "?"
    rest = "/…" if (p.path not in ("", "/") or p.query or p.username or p.password) else ""
    return f"{scheme}://{host}{port}{rest}"


def _secrets(url: str) -> list[str]:
    try:
        p = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    out = [url]
    if p.password:
        out += [p.password, urllib.parse.unquote(p.password)]
    if p.username and len(p.username) >= 4:
        out += [p.username, urllib.parse.unquote(p.username)]
    for seg in p.path.split("/"):
        if len(seg) >= 4:
            out += [seg, urllib.parse.unquote(seg)]
    for _, value in urllib.parse.parse_qsl(p.query, keep_blank_values=False):
        if len(value) >= 4:
            out += [value, urllib.parse.quote(value, safe="")]
    if p.scheme and p.netloc and not p.hostname:  # e.g. workflows://<token>...: the netloc is a secret
        out.append(p.netloc)
    return sorted({s for s in out if s}, key=len, reverse=True)


def scrub(text: str, urls=()) -> str:
    """`text` with every URL replaced by its label and every secret of `urls` by ***."""
    text = _URL_RE.sub(lambda m: label(m.group(0)), text)
    for url in urls:
        for secret in _secrets(url):
            text = text.replace(secret, "***")
    return text
