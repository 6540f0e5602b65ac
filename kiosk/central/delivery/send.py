"""Sending one delivery (the thin adapters): Apprise for notifications, an HTTP POST for billing,
atomic file writes for the billing CSV and the follow-up workbook. Each returns None when the
target confirmed, or the error as text (secrets scrubbed)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ...core import logs
from . import billing, redact
from .config import DeliveryConfig
from .outbox import BILLING_FILE, BILLING_POST, FOLLOWUP, NOTIFY

HEADER_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls"}  # Apprise: +Header=value
MAIL_SCHEMES = {"mailto", "mailtos"}


class ScrubFilter(logs.ScrubSecrets):
    """Removes the targets' secrets from every log record (Apprise's own lines included)."""

    def __init__(self, urls):
        super().__init__(urls=urls)


def with_key(url: str, key: str, timeout_s: float) -> str:
    """The target URL with the idempotency key where the target has a header for it, and the
    connect/read timeouts (unless the URL sets its own)."""
    scheme = url.split("://", 1)[0].lower()
    extra: dict[str, str] = {}
    if scheme in HEADER_SCHEMES:
        extra["+Idempotency-Key"] = key
    elif scheme in MAIL_SCHEMES:
        extra["+X-Idempotency-Key"] = key
    query = urllib.parse.urlsplit(url).query
    have = {k for k, _ in urllib.parse.parse_qsl(query, keep_blank_values=True)}
    for arg in ("cto", "rto"):
        if arg not in have:
            extra[arg] = f"{timeout_s:g}"
    if not extra:
        return url
    sep = "&" if "?" in url else "?"
    return url + sep + urllib.parse.urlencode(extra, safe="+")


def notify(url: str, key: str, title: str, body: str, timeout_s: float) -> str | None:
    import apprise

    a = apprise.Apprise()
    full = with_key(url, key, timeout_s)
    if not a.add(full):
        return f"not a valid Apprise URL ({redact.label(url)})"
    with apprise.LogCapture(level=logging.WARNING) as out:
        ok = a.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
    if ok:
        return None
    lines = [ln.split(" - ", 2)[-1] for ln in out.getvalue().splitlines() if ln.strip()]
    return redact.scrub("; ".join(lines[-3:]) or "the target did not confirm", [url, full])


def post_json(url: str, key: str, doc: dict, timeout_s: float) -> str | None:
    data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key,
        "User-Agent": "returpost-central"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            resp.read(65536)
            if 200 <= resp.status < 300:
                return None
            return f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return redact.scrub(f"{type(exc).__name__}: {reason}", [url])


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, rename over it, fsync the folder: a reader
    sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def followup_workbook(db, month: str, folder: Path, now: dt.datetime) -> Path:
    """The month's follow-up workbook, one row per day and kiosk, written atomically."""
    from . import followup
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"uppfoljning-{month}.xlsx"
    with tempfile.TemporaryDirectory(prefix=".uppfoljning-", dir=folder) as tmp:
        built = Path(tmp) / path.name
        followup.write(db, month, built, now)
        write_atomic(path, built.read_bytes())
    return path


def deliver(row, cfg: DeliveryConfig, db, now: dt.datetime) -> str | None:
    """Send one outbox row; None when the target confirmed. `db`: central's database (a
    Database or a path/URL), for the follow-up workbook."""
    payload = json.loads(row["payload"])
    channel = row["channel"]
    try:
        if channel == NOTIFY:
            target = cfg.target(row["target"])
            if target is None:
                return "the target is no longer in the config ([[notify.targets]])"
            return notify(target.url, row["key"], payload["title"], payload["body"], cfg.timeout_s)
        if channel == BILLING_POST:
            if not cfg.billing_url:
                return "billing.url is no longer set"
            return post_json(cfg.billing_url, row["key"], {**payload, "version": row["version"],
                                                           "idempotency_key": row["key"]}, cfg.timeout_s)
        if channel == BILLING_FILE:
            if cfg.billing_dir is None:
                return "billing.dir is no longer set"
            where = (payload["site"], payload["kiosk"], payload["day"])
            # the workbook first: when the CSV of a version appears, its workbook is there
            write_atomic(cfg.billing_dir / billing.xlsx_name(*where), billing.to_xlsx(payload))
            write_atomic(cfg.billing_dir / billing.file_name(*where), billing.to_csv(payload, cfg.separator).encode("utf-8-sig"))
            return None
        if channel == FOLLOWUP:
            if cfg.followup_dir is None:
                return "followup.dir is no longer set"
            followup_workbook(db, payload["month"], cfg.followup_dir, now)
            return None
        return f"unknown channel {channel!r}"
    except OSError as exc:
        return redact.scrub(f"{type(exc).__name__}: {exc}", [t.url for t in cfg.targets])
