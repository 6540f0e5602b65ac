"""The Swedish notification a TL receives for an alert (pure): what happened, where (kiosk and
site), when (local time), what to do, and a link to the alert in the web app."""

from __future__ import annotations

from ...core.clock import TZ, parse_iso
from ..clock_alerts import SITE_WIDE

KIND_TITLES = {
    "bestridan": "Bestridan av faktura",
    "tillfalliga": "Tillfälligt utskick – besked behövs",
    "deadline_missed": "Returposten ej skannad kl. 14:00",
    "no_activity": "Ingen har påbörjat returposten",
    "kiosk_offline": "Returpostkiosken är inte ansluten",
    "printer": "Skrivarfel vid returpostkiosken",
}

WHAT_TO_DO = {
    "bestridan": "Ta hand om bestridan i CAB (DOKIN \"Inscannat brev: Bestridan\") och kvittera larmet i webbappen.",
    "tillfalliga": "Svara i webbappen hur utskicket ska hanteras; svaret visas på kioskens skärm.",
    "deadline_missed": "Se till att de streckkodade högarna skannas så snart som möjligt och kvittera larmet.",
    "no_activity": "Se till att någon gör dagens returpostrutin vid kiosken.",
    "kiosk_offline": "Kontrollera kioskens ström och nätverk; det som skannats sparas i kiosken tills den är tillbaka.",
    "printer": "Fyll på papper eller kontrollera skrivaren; väntande utskrifter skrivs ut när den fungerar igen.",
}

ALERT_LINK = "{base}/larm#larm-{id}"  # the web app's alert list, at the alert's own entry


def alert_link(base_url: str, alert_id: str) -> str:
    return ALERT_LINK.format(base=base_url.rstrip("/"), id=alert_id) if base_url else ""


def local_time(ts: str | None) -> str:
    """`2026-11-23 10:42` in local time, or "" when `ts` is missing or unreadable."""
    try:
        return parse_iso(ts).astimezone(TZ).strftime("%Y-%m-%d %H:%M") if ts else ""
    except ValueError:
        return ""


def notification(alert: dict, base_url: str = "") -> tuple[str, str]:
    """(title, body) for an alert row/dict with id, site, kiosk, kind, text, ts."""
    kind = alert.get("kind") or ""
    site, kiosk = alert.get("site") or "", alert.get("kiosk") or ""
    where = f"{site} (alla kiosker)" if kiosk == SITE_WIDE else f"{kiosk}, {site}"
    title = f"{KIND_TITLES.get(kind, 'Larm från returpostkiosken')} – {where}"
    lines = [
        (alert.get("text") or "").strip(),
        "",
        f"Kiosk: {'alla kiosker' if kiosk == SITE_WIDE else kiosk}",
        f"Plats: {site}",
        f"Tid: {local_time(alert.get('ts'))}",
        "",
        f"Gör så här: {WHAT_TO_DO.get(kind, 'Läs larmet i webbappen och kvittera det.')}",
    ]
    link = alert_link(base_url, alert.get("id") or "")
    if link:
        lines += ["", f"Larmet i webbappen: {link}"]
    return title, "\n".join(lines).strip() + "\n"


def withdrawn(alert: dict, base_url: str = "") -> tuple[str, str]:
    """(title, body) telling the TL that central withdrew its clock alert, and why (`text`: the
    withdrawal's note)."""
    kind = alert.get("kind") or ""
    site, kiosk = alert.get("site") or "", alert.get("kiosk") or ""
    where = f"{site} (alla kiosker)" if kiosk == SITE_WIDE else f"{kiosk}, {site}"
    title = f"Återkallat: {KIND_TITLES.get(kind, 'Larm från returpostkiosken')} – {where}"
    lines = [(alert.get("text") or "").strip(), "",
             f"Larmet gällde {alert.get('day') or ''}. Inget behöver göras för det."]
    link = alert_link(base_url, alert.get("id") or "")
    if link:
        lines += ["", f"Larmet i webbappen: {link}"]
    return title, "\n".join(lines).strip() + "\n"
