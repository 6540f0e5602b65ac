"""Storage: the journal on persistent storage, the journal writable, events not yet sent (free
disk is shared with central: kiosk/wire/doctor.py)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

from .base import UNSENT_STALE, VOLATILE_FS, Check, System, fel, info, ok


def _mount_of(path: Path, mountinfo_text: str) -> dict | None:
    best = None
    target = os.path.realpath(path)
    for line in mountinfo_text.splitlines():
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) < 5 or len(rparts) < 2:
            continue
        point = parts[4].replace("\\040", " ")
        if target == point or target.startswith(point.rstrip("/") + "/") or point == "/":
            if best is None or len(point) >= len(best["point"]):
                best = {"point": point, "fstype": rparts[0], "source": rparts[1],
                        "options": rparts[2] if len(rparts) > 2 else ""}
    return best


def check_persistent(data_dir: Path, system: System) -> Check:
    name = "Journalens lagring"
    try:
        text = system.mountinfo.read_text()
    except OSError:
        return info(name, "kan inte läsa monteringstabellen")
    mount = _mount_of(data_dir, text)
    if mount is None:
        return info(name, f"{data_dir}: filsystemet går inte att avgöra")
    fix = ("Journalen måste ligga på beständig lagring: kör installationen med --data-device "
           "(en egen partition monteras på /var/lib/returpost-kiosk), eller stäng av "
           "överlagringen (raspi-config) innan kiosken används.")
    where = f"{data_dir} ligger på {mount['point']} ({mount['fstype']})"
    if mount["fstype"] in VOLATILE_FS:
        return fel(name, f"{where}: försvinner vid omstart", fix)
    if mount["fstype"] == "overlay":
        opts = mount["options"]
        upper = next((o.split("=", 1)[1] for o in opts.split(",") if o.startswith("upperdir=")), "")
        upper_mount = _mount_of(Path(upper), text) if upper else None
        if "lowerdir=/media/root-ro" in opts or (upper_mount and upper_mount["fstype"] in VOLATILE_FS):
            return fel(name, f"{where}, skrivskyddad rot med ändringar i RAM: försvinner vid omstart", fix)
    return ok(name, where)


def check_journal(cfg, system: System) -> tuple[Check, Check]:
    """(journal writable, unsent events)."""
    name, pname = "Journal", "Osända händelser"
    path = cfg.journal_path
    data_dir = path.parent
    if not path.exists():
        if not data_dir.exists():
            return (fel(name, f"mappen {data_dir} finns inte",
                        "Kör installationen (den skapar mappen), eller starta kiosken en gång "
                        "(systemd skapar den)."),
                    info(pname, "ingen journal än"))
        owner = data_dir.stat().st_uid
        if owner != system.euid():
            return (fel(name, f"{data_dir} tillhör en annan användare än den som kör doctor",
                        "Kör doctor som kioskanvändaren: sudo -u kiosk ... doctor"),
                    info(pname, "ingen journal än"))
        try:
            probe = data_dir / f".doctor-{os.getpid()}"
            with open(probe, "wb") as fh:
                fh.write(b"x")
                fh.flush()
                os.fsync(fh.fileno())
            probe.unlink()
        except OSError as exc:
            return (fel(name, f"{data_dir} går inte att skriva ({exc.strerror})",
                        "Ge kioskanvändaren skrivrätt till mappen."), info(pname, "ingen journal än"))
        return ok(name, f"ingen journal än; {data_dir} går att skriva"), ok(pname, "inga")
    if path.stat().st_uid != system.euid():
        why = "Kör doctor som kioskanvändaren: sudo -u kiosk ... doctor (som en annan användare " \
              "kan doctor skapa filer som kiosken sedan inte får skriva)."
        return (fel(name, f"{path} tillhör en annan användare än den som kör doctor", why),
                info(pname, "inte kontrollerat (se Journal)"))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5, isolation_level=None)
    except sqlite3.Error as exc:
        return (fel(name, f"{path} går inte att öppna ({exc})",
                    "Kontrollera rättigheterna på filen; kontakta support innan något tas bort."),
                info(pname, "inte kontrollerat"))
    try:
        quick = conn.execute("pragma quick_check").fetchone()[0]
        if quick != "ok":
            return (fel(name, f"{path} är skadad ({quick})",
                        "Stoppa kiosken och kontakta support; ta inte bort filen."),
                    info(pname, "inte kontrollerat"))
        meta = dict(conn.execute("select key, value from meta").fetchall())
        if meta.get("kiosk") != cfg.kiosk.id or meta.get("site") != cfg.kiosk.site:
            return (fel(name, f"journalen tillhör {meta.get('site')}/{meta.get('kiosk')}, inställningen "
                              f"säger {cfg.kiosk.site}/{cfg.kiosk.id}",
                        "Rätta kiosk.site och kiosk.id i inställningsfilen, eller flytta den gamla "
                        "journalen åt sidan (kontakta support först)."),
                    info(pname, "inte kontrollerat"))
        conn.execute("begin immediate")   # the write lock the kiosk needs for every event
        conn.execute("rollback")
        newest = conn.execute("select max(seq) from events").fetchone()[0] or 0
        last_seq = max(newest, int(meta.get("last_seq") or 0))  # meta holds it only across purges
        journal_check = ok(name, f"{path} går att skriva ({last_seq} händelser hittills)")
        # unconfirmed = not yet covered by central's end-to-end ack (kiosk/shelf/publisher.py)
        count, oldest, sent = conn.execute(
            "select count(*), min(ts), count(sent_at) from events where seq > ?",
            [int(meta.get("confirmed_seq") or 0)]).fetchone()
    except sqlite3.OperationalError as exc:
        return (fel(name, f"{path} går inte att skriva ({exc})",
                    "Är disken full eller skrivskyddad? Kör doctor som kioskanvändaren."),
                info(pname, "inte kontrollerat"))
    finally:
        conn.close()
    if not count:
        return journal_check, ok(pname, "inga: centralen har bekräftat allt")
    age = system.now() - dt.datetime.fromisoformat(oldest.replace("Z", "+00:00"))
    if age > UNSENT_STALE and sent:
        return journal_check, fel(pname, f"{count} händelser är inte bekräftade av centralen, den äldsta "
                                         f"sedan {oldest} ({sent} av dem har mäklaren tagit emot)",
                                  "Mäklaren tar emot men centralen bekräftar inte: kör `kiosk doctor "
                                  "--central` på centralen (körs returpost-central?). Med mqtt.protocol "
                                  "= \"v311\" kan mäklarens ACL tyst neka kioskens händelser: kontrollera "
                                  "att kioskens användarnamn är <site>/<kiosk> och använd v5. Inget går "
                                  "förlorat; kiosken skickar igen tills centralen bekräftar.")
    if age > UNSENT_STALE:
        return journal_check, fel(pname, f"{count} händelser väntar, den äldsta sedan {oldest}",
                                  "Kiosken har inte nått centralen på länge: se raden Central (MQTT). "
                                  "Inget går förlorat; allt skickas när förbindelsen fungerar.")
    return journal_check, ok(pname, f"{count} väntar på centralens bekräftelse (den äldsta {oldest})")
