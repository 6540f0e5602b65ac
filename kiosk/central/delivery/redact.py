"""Secrets in target URLs are never logged: `label(url)` is what logs and status show of a URL
(scheme and host only), `scrub(text, urls)` removes every secret part of those URLs from a text
(an error message from a library may quote the URL). The rules are the log scrubber's
(`kiosk.core.logs`): values, userinfo and tokens are removed, ordinary words never."""

from __future__ import annotations

from ...core.logs import label, scrub as _scrub

__all__ = ["label", "scrub"]


def scrub(text: str, urls=()) -> str:
    """`text` with every URL replaced by its label and every secret of `urls` by ***."""
    return _scrub(text, urls=urls)
