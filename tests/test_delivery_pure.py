"""The pure parts of delivery: URL redaction, the billing list from events, the Swedish
notification text (hypothesis where there is a space of inputs)."""

from __future__ import annotations

import csv
import io
import urllib.parse

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.central.delivery import billing, messages, redact
from kiosk.central.delivery.send import with_key

SECRET = st.text(alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789-_", min_size=8, max_size=24)
# a token in a URL's path or query: random-looking (a word there is not a secret: kiosk.core.logs)
TOKEN = SECRET.filter(lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s))


@settings(max_examples=300, deadline=None)
@given(scheme=st.sampled_from(["json", "jsons", "mailtos", "workflows", "slack", "form"]), user=SECRET,
       password=SECRET, token=TOKEN, q=TOKEN, port=st.integers(1, 65535))
def test_no_secret_of_a_url_survives_label_or_scrub(scheme, user, password, token, q, port):
    url = f"{scheme}://{user}:{password}@host.example.se:{port}/path/{token}?to={q}"
    shown = redact.label(url)
    assert shown == f"{scheme}://host.example.se:{port}/…"
    text = redact.scrub(f"failed: {url} (password {password}, token {token}, {urllib.parse.quote(q)})", [url])
    for secret in (password, token, q, user):
        assert secret not in text and secret not in shown


def test_with_key_adds_the_header_and_timeouts_where_the_target_has_them():
    assert with_key("json://h/p", "K", 3.0) == "json://h/p?%2BIdempotency-Key=K&cto=3&rto=3".replace("%2B", "+")
    assert "+X-Idempotency-Key=K" in with_key("mailtos://u:p@h?to=a@b.se", "K", 3.0)
    assert "Idempotency" not in with_key("workflows://h/a/b", "K", 3.0)
    assert with_key("json://h/p?cto=9&rto=9", "K", 3.0).count("cto") == 1


ops = st.lists(st.tuples(st.sampled_from(["scan", "undo"]), st.sampled_from(["A1", "B2", "C3", "D4"])), max_size=30)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_accepted_scans_follow_scans_and_undos(sequence):
    events, model = [], []
    for i, (op, code) in enumerate(sequence):
        ts = f"2026-11-24T09:{i // 60:02d}:{i % 60:02d}.000Z"
        if op == "scan":
            events.append({"type": "scan_accepted", "ts": ts, "operator": "ANNA", "data": {"code": code, "pile": "faktura"}})
            model.append(code)
        else:
            events.append({"type": "undone", "ts": ts, "data": {"what": "scan", "pile": "faktura", "code": code}})
            if code in model:
                del model[len(model) - 1 - model[::-1].index(code)]
    events.append({"type": "undone", "ts": "2026-11-24T10:00:00.000Z", "data": {"what": "sort", "pile": "faktura"}})
    scans = billing.accepted_scans(events)
    assert [s["code"] for s in scans] == model
    doc = billing.document("sthlm", "kiosk-1", "2026-11-24", scans)
    rows = list(csv.reader(io.StringIO(billing.to_csv(doc, ";")), delimiter=";"))
    assert [r[2] for r in rows[1:]] == model and all(len(r) == len(billing.CSV_COLUMNS) for r in rows)
    assert billing.digest(doc) == billing.digest(billing.document("sthlm", "kiosk-1", "2026-11-24", scans))


def test_notification_names_kiosk_site_local_time_what_to_do_and_the_link():
    title, body = messages.notification({"id": "a1", "site": "sthlm", "kiosk": "kiosk-2", "kind": "tillfalliga",
                                         "text": "Tillfälligt utskick i retur: priskompensation.",
                                         "ts": "2026-07-01T08:15:00.000Z"}, "https://tl.example.lan/")
    assert title == "Tillfälligt utskick – besked behövs – kiosk-2, sthlm"
    assert "Tid: 2026-07-01 10:15" in body  # summer time: UTC+2
    assert "Gör så här: Svara i webbappen" in body and "https://tl.example.lan/larm#larm-a1" in body
    _, body = messages.notification({"id": "x", "site": "sthlm", "kiosk": "*", "kind": "no_activity", "text": "t",
                                     "ts": "2026-11-24T09:00:00.000Z"})
    assert "Kiosk: alla kiosker" in body and "webbappen:" not in body
