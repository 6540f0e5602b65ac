"""Real local servers for the delivery tests: an HTTP server (webhook and billing POST) whose
behaviour a test steers, and an SMTP server (aiosmtpd). Plus a central database made by the real
central store, fed envelopes like a kiosk's."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import json
import threading
import time
import uuid

from kiosk.core.clock import TZ, utc_iso
from kiosk_dev.localbroker import free_port



class Hook:
    """An HTTP server on 127.0.0.1. `status` is what it answers; `hold` (an Event) makes it wait
    before answering until set; `on_request(hook, request)` runs before the answer."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.requests: list[dict] = []
        self.status = 200
        self.hold: threading.Event | None = None
        self.sleep = 0.0
        self.on_request = None
        self.received = threading.Event()
        self.server = None

    def start(self) -> "Hook":
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                req = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body, "json": json.loads(body) if body else None, "at": time.monotonic()}
                hook.requests.append(req)
                hook.received.set()
                if hook.on_request:
                    hook.on_request(hook, req)
                if hook.hold is not None:
                    hook.hold.wait(60)
                if hook.sleep:
                    threading.Event().wait(hook.sleep)
                self.send_response(hook.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def keys(self) -> list[str]:
        return [r["headers"].get("idempotency-key") for r in self.requests]


class Smtp:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.times: list[float] = []  # time.monotonic() of each message's arrival
        self.port = free_port()
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                box.times.append(time.monotonic())
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> "Smtp":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def store_class():
    try:
        from kiosk.central.store import CentralStore
    except ImportError:
        from kiosk.sync.central import CentralStore
    return CentralStore


class Kiosk:
    """Envelopes of one kiosk's journal, stored through central's real store."""

    def __init__(self, store, site="sthlm", kiosk="kiosk-1"):
        self.store, self.site, self.kiosk = store, site, kiosk
        self.journal = str(uuid.uuid4())
        self.seq = 0

    def event(self, at: dt.datetime, type_: str, data: dict | None = None, operator: str | None = "ANNA") -> dict:
        self.seq += 1
        ev = {"v": 1, "id": str(uuid.uuid4()), "journal": self.journal, "kiosk": self.kiosk, "site": self.site,
              "seq": self.seq, "ts": utc_iso(at), "day": at.astimezone(TZ).date().isoformat(),
              "operator": operator, "type": type_, "data": data or {}}
        return ev

    def send(self, *events: dict, received_at: dt.datetime | None = None) -> None:
        topic = f"returpost/v1/{self.site}/{self.kiosk}/events"
        batch = []
        for ev in events:
            batch.append((topic, json.dumps(ev).encode()))
            if ev["type"] == "alert_raised":
                alert = {"v": 1, "id": ev["id"], "site": self.site, "kiosk": self.kiosk, "seq": ev["seq"],
                         "ts": ev["ts"], "day": ev["day"], "kind": ev["data"]["kind"], "text": ev["data"]["text"],
                         "source": "journal"}
                batch.append((f"returpost/v1/{self.site}/{self.kiosk}/alerts", json.dumps(alert).encode()))
        counts = self.store.ingest(batch, received_at=utc_iso(received_at) if received_at else None)
        if counts["dead"]:  # a store of another round may not know the journal field yet
            plain = [(t, json.dumps({k: v for k, v in json.loads(p).items() if k != "journal"}).encode())
                     for t, p in batch if t.endswith("/events")]
            counts = self.store.ingest(plain, received_at=utc_iso(received_at) if received_at else None)
            assert not counts["dead"], counts

    def status(self, online: bool, at: dt.datetime, **extra) -> None:
        doc = {"v": 1, "site": self.site, "kiosk": self.kiosk, "online": online, "pending": 0,
               "last_seq": self.seq, **extra}
        self.store.ingest([(f"returpost/v1/{self.site}/{self.kiosk}/status", json.dumps(doc).encode())],
                          received_at=utc_iso(at))


def without_delivery(db) -> None:
    """Make central's database `db` (path or URL) look like one from before the delivery room
    existed (an older central to upgrade): a new database gets every room at once now."""
    from kiosk.central.db import POSTGRESQL, open_database

    with open_database(db) as database:
        with database.transaction() as conn:
            for trigger, table in (("delivery_queue_events", "events"), ("delivery_queue_alerts", "alerts")):
                conn.execute(f"drop trigger if exists {trigger}" + (f" on {table}" if conn.engine == POSTGRESQL else ""))
            for table in ("delivery_outbox", "delivery_cursor", "delivery_queue", "delivery_cancelled", "billing_codes"):
                conn.execute(f"drop table if exists {table}")
            conn.execute("delete from schema_migrations where room in ('delivery', 'billing_codes')")
