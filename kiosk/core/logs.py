"""Logging for every `kiosk` command: under systemd each line carries its journald priority.

When stderr is the journal's stream (systemd sets `JOURNAL_STREAM=<dev>:<inode>` of the stream it
connected), lines are `<N>logger: message` with no timestamp (journald adds its own), N the syslog
priority: 7 debug, 6 info, 4 warning, 3 error, 2 critical. So `journalctl -p warning -u
returpost-kiosk` shows exactly the warnings and errors. Elsewhere the usual
`time LEVEL logger: message`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import urllib.parse

PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (levels between the named ones round down)."""
    for level in sorted(PRIORITY, reverse=True):
        if levelno >= level:
            return PRIORITY[level]
    return 7


class JournalFormatter(logging.Formatter):
    """`<N>logger: message`, every line of a multi-line record (a traceback) prefixed alike."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def on_journal(stream=None) -> bool:
    """Whether `stream` (stderr) is the stream systemd connected to the journal."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


class _KioskHandler(logging.StreamHandler):
    """The handler `setup` installs (a later `setup` replaces it, and only it)."""


def setup(verbose: bool = False, stream=None) -> logging.Handler | None:
    """Configure the root logger for a command, like logging.basicConfig: when someone else
    already put a handler there (pytest's capture, an embedding program) it is left alone and None
    is returned; a handler of an earlier `setup` is replaced."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _KioskHandler):
            root.removeHandler(old)
    if root.handlers:
        return None
    stream = stream or sys.stderr
    handler = _KioskHandler(stream)
    handler.setFormatter(JournalFormatter() if on_journal(stream) else logging.Formatter(PLAIN_FORMAT))
    handler.addFilter(ScrubSecrets())  # the protected values (`protect`), whoever logs them
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return handler


# -- secrets are scrubbed by value -----------------------------------------------------------------
# A log line may quote a URL (a library's error message) or a configured secret. What is removed:
# the configured secret values themselves, a URL's user and password, and those parts of a URL that
# look like tokens (a long random path segment, a query value named like a key or looking random).
# An ordinary word is never removed: a URL ending in /billing leaves every other "billing" alone.
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_SECRET_KEYS = re.compile(r"(token|key|secret|pass|pwd|sig|auth|code|credential|session)", re.IGNORECASE)
MASK = "***"
_protected: set[str] = set()
_protected_urls: set[str] = set()


def looks_like_token(text: str) -> bool:
    """A random-looking string (an API token, a signature, an id), not a word: 8 or more characters
    mixing letters and digits, 6 or more digits, 20 or more with inner capitals, or 32 or more."""
    s = urllib.parse.unquote(text)
    if len(s) < 8:
        return False
    digits = sum(c.isdigit() for c in s)
    letters = sum(c.isalpha() for c in s)
    inner_caps = any(c.isupper() for c in s[1:]) and any(c.islower() for c in s)
    return (digits and letters) or digits >= 6 or (inner_caps and len(s) >= 20) or len(s) >= 32


def label(url: str) -> str:
    """`scheme://host[:port]/…` with no user, password, path, token or query (a host that is
    itself a token, as in slack://TokenA/..., shown as ***)."""
    try:
        p = urllib.parse.urlsplit(url)
        host = p.hostname or ""
        port = f":{p.port}" if p.port else ""
    except ValueError:
        return "<url>"
    if "." not in host and looks_like_token(host):
        host = MASK
    scheme = p.scheme or "?"
    rest = "/…" if (p.path not in ("", "/") or p.query or p.username or p.password) else ""
    return f"{scheme}://{host}{port}{rest}"


def url_secrets(url: str) -> list[str]:
    """The secret parts of `url` (as written and unquoted): the whole URL, its password,
    token-like path segments and host, query values named like keys, token-like or e-mail addresses."""
    try:
        p = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    out = [url]
    if p.password:  # the user name goes with the URL (its label), the password wherever it is
        out += [p.password, urllib.parse.unquote(p.password)]
    if p.hostname and "." not in p.hostname and looks_like_token(p.hostname):
        out.append(p.hostname)
    for seg in p.path.split("/"):
        if looks_like_token(seg):
            out += [seg, urllib.parse.unquote(seg)]
    for key, value in urllib.parse.parse_qsl(p.query, keep_blank_values=False):
        if _SECRET_KEYS.search(key) or looks_like_token(value) or "@" in value:
            out += [value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)]
    if p.scheme and p.netloc and not p.hostname:  # e.g. workflows://<token>...: the netloc is a secret
        out.append(p.netloc)
    return [s for s in out if s]


def _replace(text: str, secret: str) -> str:
    if len(secret) >= 8:
        return text.replace(secret, MASK)
    # a short value (a user name "tl"): only where it stands alone, not inside a word
    return re.sub(r"(?<![\w-])" + re.escape(secret) + r"(?![\w-])", MASK, text)


def scrub(text: str, secrets=(), urls=()) -> str:
    """`text` with every URL replaced by its label, and every given secret value, protected value
    (`protect`) and secret part of the given and protected URLs replaced by ***."""
    text = _URL_RE.sub(lambda m: label(m.group(0)), text)
    values = set(secrets) | _protected
    for url in (*urls, *_protected_urls):
        values.update(url_secrets(url))
    for secret in sorted((v for v in values if v and len(v) >= 3), key=len, reverse=True):
        text = _replace(text, secret)
    return text


def protect(values=(), urls=()) -> None:
    """Values (passwords, tokens) and URLs holding secrets that no log line of this process shows
    (the handler `setup` installs scrubs every record; `scrub` removes them from any text)."""
    _protected.update(v for v in values if v)
    _protected_urls.update(u for u in urls if u)


class ScrubSecrets(logging.Filter):
    """Scrubs the message of every record it sees with `scrub`."""

    def __init__(self, secrets=(), urls=()):
        super().__init__()
        self.secrets, self.urls = tuple(secrets), tuple(urls)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string must not stop logging
            return True
        clean = scrub(msg, self.secrets, self.urls)
        if clean != msg:
            record.msg, record.args = clean, None
        return True
