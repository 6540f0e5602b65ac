"""What the TLs did with the alerts: acknowledgements, answers to temporary mailings, clearing an
answer. Append-only in `web_alert_actions` (alert id, site, kiosk, action, who, when, text), read
back as one state per alert. `alert_states` is what central publishes to a kiosk's `inbox`.

Tables (room "web" of central's migrations, `kiosk.central.web.schema`):
  web_alert_actions(n, alert_id, site, kiosk, day, action 'ack'|'answer'|'clear', who, at, text)

Functions take a `kiosk.central.db.Conn` of either engine (`alert_states` also a Database or a
path/URL); the caller holds the transaction of a write.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from .. import summaries
from ..summaries import connect  # noqa: F401  (kiosk.central.inbox opens its reader with it)
from ..db import Conn, Database, open_database, using

ACTIONS = ("ack", "answer", "clear")
ANSWER_MAX = 500


def ensure_schema(db: "Database | Conn | str | Path") -> None:
    """Central's rooms and the web room (`schema.ensure`), for a caller holding any handle."""
    from . import schema

    if isinstance(db, (str, Path)):
        with open_database(db) as own:
            schema.ensure(own)
        return
    with using(db) as conn:
        schema.ensure(conn)


def refresh(db: "Database | Conn", now: dt.datetime | None = None) -> int:
    """The materialised summaries (kiosk.central.summaries) brought up to date."""
    return summaries.refresh(db, now)


def _utc(now: dt.datetime) -> str:
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ActionError(ValueError):
    """A refused action; the message is Swedish, for the page."""


def record(db: "Conn | Database", alert_id: str, action: str, who: str, now: dt.datetime,
           text: str | None = None) -> dict:
    """Record an acknowledgement, an answer (temporary mailings only) or the clearing of an answer.
    Raises ActionError (Swedish) for an unknown alert, a wrong kind or an empty answer. Give the
    Conn of the caller's transaction (the web app writes the audit row in the same one)."""
    with using(db) as conn:
        return _record(conn, alert_id, action, who, now, text)


def _record(conn: Conn, alert_id: str, action: str, who: str, now: dt.datetime, text: str | None) -> dict:
    if action not in ACTIONS:
        raise ActionError("Okänd åtgärd.")
    alert = conn.query_one("select id, site, kiosk, day, kind, cancelled_at from web_alerts where id = ?",
                           [alert_id])
    if alert is None:
        raise ActionError("Larmet finns inte.")
    aid, site, kiosk, day, kind, cancelled = alert
    if action in ("answer", "clear") and kind != "tillfalliga":
        raise ActionError("Bara ett tillfälligt utskick kan få ett svar.")
    if action == "answer":
        text = (text or "").strip()
        if not text:
            raise ActionError("Skriv hur utskicket ska hanteras.")
        if len(text) > ANSWER_MAX:
            raise ActionError(f"Svaret får vara högst {ANSWER_MAX} tecken.")
    else:
        text = None
    at = _utc(now)
    conn.execute("insert into web_alert_actions(alert_id, site, kiosk, day, action, who, at, text) "
                 "values (?,?,?,?,?,?,?,?)", [aid, site, kiosk, day, action, who, at, text])
    return {"alert": aid, "site": site, "kiosk": kiosk, "action": action, "who": who, "at": at, "text": text}


def _fold(actions) -> dict:
    state: dict[str, dict | None] = {"acknowledged": None, "answer": None, "cleared": None}
    for action, who, at, text in actions:
        if action == "ack" and state["acknowledged"] is None:
            state["acknowledged"] = {"by": who, "at": at}
        elif action == "answer":  # an answer is also the acknowledgement
            state["answer"] = {"text": text, "by": who, "at": at}
            if state["acknowledged"] is None:
                state["acknowledged"] = {"by": who, "at": at}
            state["cleared"] = None
        elif action == "clear":
            state["cleared"] = {"by": who, "at": at}
    return state


def alerts(db: "Conn | Database", *, day: str | None = None, site: str | None = None,
           kiosk: str | None = None, since: str | None = None, limit: int | None = None) -> list[dict]:
    """Alerts with their state, open ones first (newest first within each group)."""
    with using(db) as conn:
        return _alerts(conn, day=day, site=site, kiosk=kiosk, since=since, limit=limit)


def _alerts(conn: Conn, *, day: str | None, site: str | None, kiosk: str | None, since: str | None,
            limit: int | None) -> list[dict]:
    sql = ("select id, site, kiosk, day, kind, text, ts, source, cancelled_at from web_alerts "
           "where kind is not null")
    args: list = []
    for cond, value in (("day = ?", day), ("site = ?", site), ("kiosk = ?", kiosk), ("day >= ?", since)):
        if value:
            sql += f" and {cond}"
            args.append(value)
    rows = conn.query(sql + " order by ts desc, id", args)
    ids = [r[0] for r in rows]
    acts: dict[str, list] = {}
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        for aid, action, who, at, text in conn.query(
                f"select alert_id, action, who, at, text from web_alert_actions where alert_id in "
                f"({','.join('?' * len(part))}) order by n", part):
            acts.setdefault(aid, []).append((action, who, at, text))
    out = []
    for aid, s, k, d, kind, text, ts, source, cancelled in rows:
        st = _fold(acts.get(aid, []))
        item = {"alert": aid, "site": s, "kiosk": k, "day": d, "kind": kind, "text": text, "ts": ts,
                "source": source, "cancelled_at": cancelled, **st}
        item["open"] = item["acknowledged"] is None and cancelled is None
        out.append(item)
    out.sort(key=lambda a: (not a["open"],))  # stable: newest first within open / closed
    return out[:limit] if limit else out


def open_count(db: "Conn | Database") -> int:
    with using(db) as conn:
        row = conn.query_one(
            "select count(*) from web_alerts a where kind is not null and cancelled_at is null and not exists "
            "(select 1 from web_alert_actions x where x.alert_id = a.id and x.action in ('ack', 'answer'))")
    return int(row[0]) if row else 0


def alert_states(db, site: str, kiosk: str, day: str) -> list[dict]:
    """What a kiosk's screen shows from the TLs, for central to publish on `.../<site>/<kiosk>/inbox`:
    each alert of that kiosk on that day with `acknowledged` ({by, at} or None), `answer`
    ({text, by, at} or None, temporary mailings) and `cleared` ({by, at} or None); plus the
    uncleared answers to the same site's other kiosks' temporary mailings that day (the answer
    is for the site: `kiosk` names where the mailing was reported). `db`: central's database as a
    Database, a Conn, or a path/URL (opened and closed here). Times are UTC ISO with Z."""
    if isinstance(db, (str, Path)):
        with open_database(db) as own:
            ensure_schema(own)
            return alert_states(own, site, kiosk, day)
    with using(db) as conn:
        ensure_schema(conn)
        refresh(conn)
        out = []
        for a in alerts(conn, day=day, site=site):
            mine = a["kiosk"] == kiosk
            if not mine and not (a["kind"] == "tillfalliga" and a["answer"] and not a["cleared"]):
                continue
            out.append({"alert": a["alert"], "site": a["site"], "kiosk": a["kiosk"], "day": a["day"],
                        "kind": a["kind"], "text": a["text"], "ts": a["ts"],
                        "cancelled": a["cancelled_at"] is not None,
                        "acknowledged": a["acknowledged"], "answer": a["answer"], "cleared": a["cleared"]})
        out.sort(key=lambda a: (a["ts"] or "", a["alert"]))
        return out
