"""What the kiosk says about its alerts to the TL and its prints: pure functions, no Kivy, no clock.

Every sentence here must hold when it is shown (DESIGN.md §8). An alert (or a question about a
temporary mailing, or the withdrawal of either) is only "received by the TL" once central says so:
its retained inbox document (kiosk/wire/inbox.py) reports the notification delivered, or the day's
journal holds the `alert_delivered` the kiosk recorded from an earlier document. Until then the
kiosk says it is being sent; it tells the operator to tell the TL directly when central reports
the delivery failed, when nothing was confirmed within `ui.alert_confirm_minutes`, and at once
while central is unreachable (`central_link`).

    link = central_link(publisher_status, now, silent_after_s)
    text, severity = alert_text(alert_state(alert, inbox_doc, now, link, confirm_after))

Severities as the controller's: "ok" green, "warning" amber, "error" red.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .clock import TZ, parse_iso

OK, WARNING, ERROR = "ok", "warning", "error"


# -- is central reachable? ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """Whether central can hear this kiosk now, and if not why (Swedish, a few words)."""

    reachable: bool
    why: str = ""


SYNC_OFF = Link(False, "synk är avstängd")
NO_BROKER = Link(False, "ingen kontakt med centralen")
CENTRAL_SILENT = Link(False, "centralen svarar inte")
REACHABLE = Link(True)


def central_link(sync: dict | None, now: dt.datetime, silent_after_s: float) -> Link:
    """Central is reachable when the MQTT session is up and central confirms what the kiosk sends
    (its end-to-end ack, `.../ack`): with events waiting for central's confirmation, an ack that
    has not moved for `silent_after_s` since the session came up or last moved means central is
    not there (a broker without central takes everything and confirms nothing).

    `sync`: the publisher's status (kiosk/shelf/publisher.py), None when sync is off."""
    if sync is None or sync.get("enabled") is False:
        return SYNC_OFF
    if not sync.get("online"):
        return NO_BROKER
    if not sync.get("pending"):
        return REACHABLE
    since = [parse_iso(t) for t in (sync.get("connected_at"), sync.get("last_confirmed_at")) if t]
    if since and (now - max(since)).total_seconds() < silent_after_s:
        return REACHABLE
    return CENTRAL_SILENT


# -- where an alert is ----------------------------------------------------------------------------
# states of a raised alert ...
SENDING, DELIVERED, ACKNOWLEDGED, FAILED, UNREACHABLE, OVERDUE = (
    "sending", "delivered", "acknowledged", "failed", "unreachable", "overdue")
# ... and of a withdrawn one
W_SENDING, W_STORED, W_TELL, W_UNREACHABLE, W_OVERDUE, W_DELIVERED = (
    "withdraw_sending", "withdraw_stored", "withdraw_tell", "withdraw_unreachable", "withdraw_overdue",
    "withdraw_delivered")


@dataclass(frozen=True)
class AlertState:
    state: str
    kind: str  # bestridan | tillfalliga | deadline_missed | ...
    at: str | None = None  # UTC ISO: delivered / acknowledged at
    by: str | None = None  # the TL who acknowledged
    why: str = ""  # why central is unreachable
    minutes: float = 0  # the confirm window that passed


def alert_state(alert: dict, doc: dict | None, now: dt.datetime, link: Link, confirm_after: dt.timedelta,
                withdrawal_stored: bool = False) -> AlertState:
    """Where `alert` (an entry of the day's `DayState.alerts`: kind, at, id, cancelled,
    cancelled_at, delivered_at) is, from central's inbox document `doc` (None: none came), the
    connection `link` and the time. `withdrawal_stored`: central has stored the alert_cancelled
    event (its ack covers it)."""
    kind = alert["kind"]
    entry = _find(doc, alert.get("id"))
    notified = (entry or {}).get("notified") or {}
    ack = (entry or {}).get("acknowledged")
    delivered_at = alert.get("delivered_at") or (notified.get("at") if notified.get("state") == "delivered" else None)
    if ack and not delivered_at:
        delivered_at = ack["at"]
    minutes = confirm_after.total_seconds() / 60
    if alert.get("cancelled"):
        # a TL was told (or may have been: central sends a notice that it is withdrawn): the
        # withdrawal has reached the TL only once central reports that notice delivered
        withdrawal = (entry or {}).get("withdrawn")
        if withdrawal and withdrawal.get("state") == "delivered":
            return AlertState(W_DELIVERED, kind, at=withdrawal["at"])
        if withdrawal or delivered_at:
            since = alert.get("cancelled_at") or alert.get("at")
            late = bool(since) and now - parse_iso(since) >= confirm_after
            if (withdrawal or {}).get("state") == "failed" or not link.reachable or late:
                if delivered_at:
                    return AlertState(W_TELL, kind, at=delivered_at)
                if not link.reachable:
                    return AlertState(W_UNREACHABLE, kind, why=link.why)
                return AlertState(W_OVERDUE, kind, minutes=minutes)
            return AlertState(W_SENDING, kind)
        if withdrawal_stored:
            return AlertState(W_STORED, kind)
        if not link.reachable:
            return AlertState(W_UNREACHABLE, kind, why=link.why)
        since = alert.get("cancelled_at") or alert.get("at")
        if since and now - parse_iso(since) >= confirm_after:
            return AlertState(W_OVERDUE, kind, minutes=minutes)
        return AlertState(W_SENDING, kind)
    if ack:
        return AlertState(ACKNOWLEDGED, kind, at=ack["at"], by=ack["by"])
    if delivered_at:
        return AlertState(DELIVERED, kind, at=delivered_at)
    if notified.get("state") == "failed":
        return AlertState(FAILED, kind)
    if not link.reachable:
        return AlertState(UNREACHABLE, kind, why=link.why)
    if alert.get("at") and now - parse_iso(alert["at"]) >= confirm_after:
        return AlertState(OVERDUE, kind, minutes=minutes)
    return AlertState(SENDING, kind)


def _find(doc: dict | None, alert_id: str | None) -> dict | None:
    if not doc or not alert_id:
        return None
    return next((a for a in doc.get("alerts", []) if a.get("id") == alert_id), None)


def _hhmm(at: str, tz: ZoneInfo) -> str:
    return parse_iso(at).astimezone(tz).strftime("%H:%M")


def _words(kind: str) -> tuple[str, str, str]:
    """(noun, Noun, "withdrawn" in agreement): a question to the TL is "frågan" (en-word)."""
    return ("frågan", "Frågan", "återkallad") if kind == "tillfalliga" else ("larmet", "Larmet", "återkallat")


TEXTS = {
    ACKNOWLEDGED: ("TL har fått {noun} och kvitterat ({by} {hhmm})", OK),
    DELIVERED: ("TL har fått {noun} {hhmm}", OK),
    FAILED: ("{Noun} kunde inte skickas till TL – säg till TL direkt", ERROR),
    UNREACHABLE: ("{Noun} har inte nått TL ({why}) – säg till TL direkt", ERROR),
    OVERDUE: ("Ingen bekräftelse på att TL fått {noun} efter {minutes} – säg till TL direkt", ERROR),
    SENDING: ("{Noun} skickas till TL …", WARNING),
    W_TELL: ("TL fick {noun} {hhmm} – säg till TL att {noun} är {withdrawn}", ERROR),
    W_DELIVERED: ("Återkallelsen har nått TL {hhmm}: {noun} är {withdrawn}", OK),
    W_STORED: ("{Noun} är {withdrawn}: centralen har tagit emot återkallandet", OK),
    W_UNREACHABLE: ("Återkallandet har inte nått centralen ({why}) – säg till TL direkt att {noun} är {withdrawn}", ERROR),
    W_OVERDUE: ("Ingen bekräftelse på återkallandet efter {minutes} – säg till TL direkt att {noun} är {withdrawn}",
                ERROR),
    W_SENDING: ("Återkallandet av {noun} skickas till TL …", WARNING),
}


def alert_text(s: AlertState, tz: ZoneInfo = TZ) -> tuple[str, str]:
    """(Swedish sentence, severity) for the strips, the banner and the summary."""
    noun, Noun, withdrawn = _words(s.kind)
    template, severity = TEXTS[s.state]
    hhmm = _hhmm(s.at, tz) if s.at else ""
    return template.format(noun=noun, Noun=Noun, withdrawn=withdrawn, why=s.why, by=s.by, hhmm=hhmm,
                           minutes=f"{s.minutes:g} min"), severity


def alert_short(s: AlertState, tz: ZoneInfo = TZ) -> tuple[str, str]:
    """The same in the few words the status bar has room for."""
    text, severity = alert_text(s, tz)
    if s.state in (DELIVERED, ACKNOWLEDGED):
        return f"{'mottaget' if s.state == DELIVERED else 'kvitterat'} {_hhmm(s.at or '', tz)}", severity
    short = {SENDING: "skickas …", FAILED: "ej skickat – säg till TL", UNREACHABLE: "ej skickat – säg till TL",
             OVERDUE: "ej bekräftat – säg till TL", W_SENDING: "återkallas …", W_STORED: "återkallat",
             W_DELIVERED: f"återkallat, TL vet {_hhmm(s.at or '', tz) if s.at else ''}".strip(), W_TELL: "återkallat – säg till TL", W_UNREACHABLE: "återkallat – säg till TL",
             W_OVERDUE: "återkallat – säg till TL"}
    return short.get(s.state, text), severity


def needs_telling(s: AlertState) -> bool:
    """The operator must tell the TL in person (red)."""
    return alert_text(s)[1] == ERROR


# the routine's own sentences about the TL alert in a result message: the screen replaces them
# with the live state above
ROUTINE_CLAIMS = (
    "TL har larmats om bestridan.", "TL har larmats.", "TL har fått besked att larmet är återkallat.",
    "TL har fått en fråga om hur utskicket ska hanteras.", "TL har redan fått frågan om utskicket.",
    "Larmet skickas till TL.", "Frågan skickas till TL.", "Återkallandet skickas till TL.",
)


def without_claims(message: str) -> str:
    """A result message without the routine's sentences about the TL alert."""
    for claim in ROUTINE_CLAIMS:
        message = message.replace(claim, "")
    return " ".join(message.split())


# -- prints ----------------------------------------------------------------------------------------
def print_counts(prints: list[dict] | tuple[dict, ...], kind: str) -> dict[str, int]:
    """How many of the day's `kind` jobs (DayState.prints / summary print_jobs) are printed,
    queued and failed."""
    out = {"printed": 0, "queued": 0, "failed": 0}
    for p in prints:
        if p["kind"] == kind:
            out[p["state"]] += 1
    return out


def unprinted_note(prints, kind: str) -> str:
    """" (1 väntar på skrivaren · 2 skrevs inte ut)" for the `kind` jobs the printer has not
    taken, "" when every one printed (or none was asked for)."""
    c = print_counts(prints, kind)
    parts = [f"{c['queued']} väntar på skrivaren"] * bool(c["queued"]) + [f"{c['failed']} skrevs inte ut"] * bool(c["failed"])
    return f" ({' · '.join(parts)})" if parts else ""


def printer_status(printer: dict) -> tuple[str, str]:
    """The status bar's printer word: (text, severity). Green "OK" only with the printer ready and
    nothing waiting; amber while jobs wait on a ready printer (being printed); red when it is not
    ready (offline, no paper, error)."""
    pending = int(printer.get("pending") or 0)
    if not printer.get("ok", True):
        return ("fel" + (f" ({pending} väntar)" if pending else "")), ERROR
    if pending:
        return f"{pending} i kö", WARNING
    return "OK", OK
