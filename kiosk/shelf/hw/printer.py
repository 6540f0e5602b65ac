"""The thermal printer: ESC/POS over USB, serial, network or a file, with a durable job queue.

    outcome = service.submit(effects.Print("cover_slip", layout))   # -> PrintOutcome(ok, message, job_id)

A job with `persist=True` (cover slip, day summary, test slip) is written to its own SQLite file
(`<data_dir>/print_queue.db`, durable like the journal) *before* it is sent, so a printer that is
offline, out of paper or erroring loses nothing: the job prints when the printer is back
(`retry()`, which the device loop calls) and can be reprinted on request (`reprint(job_id)`).
A job with `persist=False` (the dödsbo label: it holds a personnummer) never reaches disk: it is
kept in memory only, and after a restart the operator enters the personnummer again.

Every job also gets a PNG preview from the same `Layout` (`kiosk.shelf.preview`); previews of
persistent jobs are saved under `printer.preview_dir`, the dödsbo label's only in memory.
"""

from __future__ import annotations

import datetime as dt
import errno
import itertools
import json
import logging
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from .. import preview
from ...core.effects import Print
from ...core.printouts import layout_from_dict, layout_to_dict
from .escpos_render import lasting_escpos_cache, render

log = logging.getLogger(__name__)

OK, OFFLINE, NO_PAPER, ERROR = "ok", "offline", "no_paper", "error"

STATUS_SV = {
    OK: "Skrivaren är klar.",
    OFFLINE: "Skrivaren svarar inte. Kontrollera att den är påslagen och att kabeln sitter i.",
    NO_PAPER: "Skrivaren har slut på papper. Lägg i en ny rulle.",
    ERROR: "Skrivaren rapporterar ett fel. Stäng luckan och kontrollera pappret.",
}
PAPER_LOW_SV = "Skrivaren är klar, men pappret tar snart slut."
# A job that holds a personnummer (persist=False) on a printer whose bytes stay on disk.
NOT_ON_DISK_SV = ("{title} skrevs inte ut: skrivaren är inställd på att spara utskrifterna i en fil, och ett "
                  "personnummer får aldrig sparas på disk. Etiketten visas bara på skärmen. Kontakta tekniker "
                  "om en riktig skrivare ska användas.")


class PrinterUnavailable(Exception):
    def __init__(self, state: str, detail: str = ""):
        super().__init__(detail or state)
        self.state = state
        self.detail = detail


@dataclass(frozen=True)
class PrintOutcome:
    ok: bool
    message: str  # Swedish, for the screen
    job_id: str | None = None
    state: str = OK  # the printer state when the job was tried
    kept: bool = False  # the job waits for the printer (durably, or in memory for persist=False)
    ref: str | None = None  # the routine's print job id (effects.Print.job) when the day records its outcome


# The queue's table, as sqlite-utils created it (queues on disk have it); plain sqlite3 since
# sqlite-utils with click, dateutil and pluggy is ~5 MB of the kiosk's memory.
_JOBS_TABLE = """CREATE TABLE IF NOT EXISTS "jobs" (
   "id" INTEGER PRIMARY KEY,
   "kind" TEXT NOT NULL,
   "title" TEXT,
   "layout" TEXT NOT NULL,
   "created" TEXT NOT NULL,
   "state" TEXT NOT NULL,
   "attempts" INTEGER,
   "last_error" TEXT,
   "printed_at" TEXT,
   "ref" TEXT)"""


# -- transports: how bytes reach the paper ---------------------------------------------------------
class DummyTransport:
    """Bytes collected in memory (python-escpos Dummy semantics). `online` and `paper` can be
    switched by the simulator and tests to play a printer that is off or out of paper."""

    name = "dummy"
    keeps_bytes = False  # memory only: gone when the process ends

    def __init__(self):
        self.online = True
        self.paper = 2  # 2 plenty, 1 near end, 0 out (escpos paper_status)
        self.jobs: list[bytes] = []

    @property
    def output(self) -> bytes:
        return b"".join(self.jobs)

    def status(self) -> tuple[str, str]:
        if not self.online:
            return OFFLINE, "dummy printer switched off"
        if self.paper == 0:
            return NO_PAPER, "dummy printer out of paper"
        return OK, "paper low" if self.paper == 1 else ""

    def send(self, data: bytes) -> None:
        state, detail = self.status()
        if state != OK:
            raise PrinterUnavailable(state, detail)
        self.jobs.append(data)

    def describe(self) -> str:
        return "in memory (dummy)"


class FileTransport:
    """ESC/POS bytes appended to a file: a regular file (simulator: a record of everything printed)
    or a printer device node such as /dev/usb/lp0 (kernel usblp driver)."""

    name = "file"

    def __init__(self, path: Path):
        self.path = Path(path)

    def _is_device(self) -> bool:
        return str(self.path).startswith("/dev/")

    @property
    def keeps_bytes(self) -> bool:
        """True when what is sent stays on disk: anything but a character device (a printer's
        device node such as /dev/usb/lp0). A label with a personnummer is never sent here."""
        try:
            return not stat.S_ISCHR(os.stat(self.path).st_mode)
        except OSError:
            return not self._is_device()  # a missing /dev node: offline; a missing file: would be made

    def status(self) -> tuple[str, str]:
        if self._is_device():
            try:
                st = os.stat(self.path)
            except OSError as exc:
                return OFFLINE, f"{self.path}: {exc.strerror}"
            if not stat.S_ISCHR(st.st_mode):
                return ERROR, f"{self.path} is not a character device"
            if not os.access(self.path, os.W_OK):
                return ERROR, f"{self.path}: no write permission (add the kiosk user to group lp)"
            return OK, ""
        parent = self.path.parent
        probe = parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not os.access(probe, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
            return OFFLINE, f"{self.path}: not writable"
        return OK, ""

    def send(self, data: bytes) -> None:
        state, detail = self.status()
        if state != OK:
            raise PrinterUnavailable(state, detail)
        if not self._is_device():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | (0 if self._is_device() else os.O_CREAT), 0o600)
        except OSError as exc:
            raise PrinterUnavailable(OFFLINE, f"{self.path}: {exc.strerror}") from None
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if not self._is_device():
                os.fsync(fd)
        except OSError as exc:
            state = NO_PAPER if exc.errno == errno.ENOSPC and self._is_device() else ERROR
            raise PrinterUnavailable(state, exc.strerror or str(exc)) from None
        finally:
            os.close(fd)

    def describe(self) -> str:
        return f"file {self.path}"


@dataclass(eq=False)
class EscposTransport:
    """A python-escpos device printer (Usb, Serial, Network). Status from `is_online()` and
    `paper_status()` (DLE EOT). A network printer is connected per job (many take only one
    connection at a time); USB and serial stay open (python-escpos resets a USB printer on every
    open) and are reopened once when the kept connection turns out stale (unplugged, power cycled)."""

    keeps_bytes: ClassVar[bool] = False  # the bytes go to the printer, nowhere else

    name: str
    factory: Callable[[], object]
    description: str
    query_status: bool = True
    keep_open: bool = False
    _p: Any = field(default=None, init=False, repr=False)
    opens: int = field(default=0, init=False)  # connections opened so far

    def _open(self):
        if self._p is not None:
            return self._p
        p = None
        lasting_escpos_cache()  # the factories import python-escpos
        try:
            p = self.factory()
            p.open()
        except Exception as exc:  # DeviceNotFoundError, USBNotFoundError, OSError, missing pyusb
            if p is not None:
                p._device = False  # nothing to close: keep escpos' __del__ quiet
            raise PrinterUnavailable(OFFLINE, f"{type(exc).__name__}: {exc}") from None
        self.opens += 1
        if self.keep_open:
            self._p = p
        return p

    def _done(self, p) -> None:
        if not self.keep_open:
            _close(p)

    def _drop(self, p) -> None:
        self._p = None
        _close(p)

    def _query(self, p) -> tuple[str, str]:
        """The printer's answer to DLE EOT 1 and 4 (as escpos' is_online/paper_status read them);
        raises when it does not answer (escpos would take silence for "offline")."""
        if not self.query_status:
            return OK, ""
        from escpos.constants import (RT_MASK_LOWPAPER, RT_MASK_NOPAPER, RT_MASK_ONLINE, RT_MASK_PAPER,
                                      RT_STATUS_ONLINE, RT_STATUS_PAPER)
        online = p.query_status(RT_STATUS_ONLINE)
        if not online:
            raise OSError(errno.EIO, "no answer to the status query")
        if online[0] & RT_MASK_ONLINE:
            return ERROR, "printer reports offline (cover open or error)"
        paper = p.query_status(RT_STATUS_PAPER)
        if not paper:
            raise OSError(errno.EIO, "no answer to the paper status query")
        if paper[0] & RT_MASK_NOPAPER == RT_MASK_NOPAPER:
            return NO_PAPER, "paper out"
        if paper[0] & RT_MASK_LOWPAPER == RT_MASK_LOWPAPER:
            return OK, "paper low"
        return OK, "" if paper[0] & RT_MASK_PAPER == RT_MASK_PAPER else "paper status unclear"

    def status(self) -> tuple[str, str]:
        for _ in range(2):
            kept = self._p is not None
            try:
                p = self._open()
            except PrinterUnavailable as exc:
                return exc.state, exc.detail
            try:
                result = self._query(p)
            except Exception as exc:
                self._drop(p)
                if kept:
                    continue  # a stale kept connection: once more with a fresh one
                log.debug("printer status query failed: %s", exc)
                return OK, "status unknown"  # some printers never answer DLE EOT: assume it prints
            self._done(p)
            return result
        return OFFLINE, "no answer"

    def send(self, data: bytes) -> None:
        for _ in range(2):
            kept = self._p is not None
            p = self._open()
            try:
                state, detail = self._query(p)
            except Exception as exc:
                if kept:
                    self._drop(p)
                    continue  # nothing was sent yet: retry on a fresh connection
                log.debug("printer status query failed: %s", exc)
                state, detail = OK, "status unknown"
            if state != OK:
                self._done(p)
                raise PrinterUnavailable(state, detail)
            try:
                p._raw(data)
            except Exception as exc:  # never resent here: the paper may hold half of it
                self._drop(p)
                raise PrinterUnavailable(ERROR, f"{type(exc).__name__}: {exc}") from None
            self._done(p)
            return
        raise PrinterUnavailable(OFFLINE, "no answer")

    def describe(self) -> str:
        return self.description


def _close(p) -> None:
    try:
        p.close()
    except Exception:
        pass


def make_transport(cfg, config=None):
    """The transport `printer.backend` names."""
    backend = cfg["backend"]
    profile = cfg["profile"]
    if backend == "dummy":
        return DummyTransport()
    if backend == "file":
        path = config.data_path(cfg["path"]) if config is not None else Path(cfg["path"])
        return FileTransport(path)
    if backend == "usb":
        def usb():
            from escpos.printer import Usb
            if not Usb.is_usable():
                raise RuntimeError("pyusb is not installed (pip install pyusb; apt install libusb-1.0-0)")
            return Usb(cfg["usb_vendor"], cfg["usb_product"], timeout=2000, in_ep=cfg.get("usb_in_ep", 0x82),
                       out_ep=cfg.get("usb_out_ep", 0x01), profile=profile)
        return EscposTransport("usb", usb, f"USB {cfg['usb_vendor']:04x}:{cfg['usb_product']:04x}", keep_open=True)
    if backend == "serial":
        def serial():
            from escpos.printer import Serial
            if not Serial.is_usable():
                raise RuntimeError("pyserial is not installed (pip install pyserial)")
            return Serial(devfile=cfg["serial_port"], baudrate=cfg["baudrate"], timeout=2, profile=profile)
        return EscposTransport("serial", serial, f"serial {cfg['serial_port']} at {cfg['baudrate']} baud", keep_open=True)
    if backend == "network":
        def network():
            from escpos.printer import Network
            return Network(cfg["host"], port=cfg["port"], timeout=cfg.get("timeout_s", 3), profile=profile)
        return EscposTransport("network", network, f"network {cfg['host']}:{cfg['port']}")
    raise ValueError(f"unknown printer backend {backend!r}")


# -- the service -------------------------------------------------------------------------------------
@dataclass
class _Job:
    id: str
    kind: str
    layout: object
    persist: bool
    created: str
    ref: str | None = None


class PrintService:
    def __init__(self, transport, queue_path: Path | None, codepage: str = "CP858",
                 profile: str = "default", preview_dir: Path | None = None,
                 clock: Callable[[], dt.datetime] | None = None, keep_days: int = 30):
        self.transport = transport
        self.codepage = codepage
        self.profile = profile
        self.preview_dir = Path(preview_dir) if preview_dir else None
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._lock = threading.RLock()  # one sender at a time (held while the printer is slow)
        self._state = threading.RLock()  # the queue and the memory jobs (held only briefly)
        self._memory: dict[str, _Job] = {}  # persist=False jobs waiting: RAM only
        self._refused: dict[str, tuple[str, str | None]] = {}  # persist=False jobs a file would keep: id -> (title, ref)
        self._mem_ids = itertools.count(1)
        self._previews: dict[str, bytes] = {}
        self.last_state = OK
        # Called with every PrintOutcome of a job that has a `ref` (the printer took it, or did
        # not), outside the printer's lock, from whichever thread tried: the kiosk records it.
        self.outcome_listeners: list[Callable[[PrintOutcome], None]] = []
        self.db = None
        if queue_path is not None:
            from ...wire.journal import connect
            self.db = connect(queue_path)
            with self.db.conn:  # the schema sqlite-utils made before the queue used plain SQL
                self.db.execute(_JOBS_TABLE)
                self.db.execute('CREATE INDEX IF NOT EXISTS "idx_jobs_state" ON "jobs" ("state")')
            columns = {r[1] for r in self.db.execute('PRAGMA table_info("jobs")')}
            if "ref" not in columns:  # a queue from before outcomes were recorded
                self.db.execute('ALTER TABLE "jobs" ADD COLUMN "ref" TEXT')
            cutoff = (self.clock() - dt.timedelta(days=keep_days)).isoformat()
            with self.db.conn:  # printed jobs are kept a while for reprints, then dropped
                self.db.execute("DELETE FROM jobs WHERE state = 'printed' AND printed_at < ?", [cutoff])
        else:
            self._db_jobs: dict[int, dict] = {}
            self._db_ids = itertools.count(1)

    # -- storage of persistent jobs ------------------------------------------------------------
    def _store(self, job: Print) -> str:
        with self._state:
            return self._store_locked(job)

    def _store_locked(self, job: Print) -> str:
        row = {"kind": job.kind, "title": job.layout.title, "layout": json.dumps(layout_to_dict(job.layout), ensure_ascii=False),
               "created": self.clock().isoformat(), "state": "pending", "attempts": 0, "last_error": "", "printed_at": None,
               "ref": job.job}
        if self.db is None:
            rid = next(self._db_ids)
            self._db_jobs[rid] = dict(row, id=rid)
            return str(rid)
        with self.db.conn:
            cur = self.db.execute(f'INSERT INTO "jobs" ({", ".join(row)}) VALUES ({", ".join("?" * len(row))})',
                                  list(row.values()))
        return str(cur.lastrowid)

    def _rows(self, where: str = "") -> list[dict]:
        with self._state:
            return self._rows_locked(where)

    def _rows_locked(self, where: str) -> list[dict]:
        if self.db is None:
            rows = sorted(self._db_jobs.values(), key=lambda r: r["id"])
            if where == "pending":
                rows = [r for r in rows if r["state"] == "pending"]
            return [dict(r) for r in rows]
        sql = 'SELECT * FROM "jobs"' + (" WHERE state = 'pending'" if where == "pending" else "") + " ORDER BY id"
        cur = self.db.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def _update(self, rid: int, **values) -> None:
        with self._state:
            self._update_locked(rid, values)

    def _update_locked(self, rid: int, values: dict) -> None:
        if self.db is None:
            self._db_jobs[rid].update(values)
            return
        with self.db.conn:
            self.db.execute(f'UPDATE "jobs" SET {", ".join(f"{k} = ?" for k in values)} WHERE id = ?',
                            [*values.values(), rid])

    def jobs(self) -> list[dict]:
        """Persistent jobs (newest last): id, kind, title, state, created, printed_at."""
        return [{k: r[k] for k in ("id", "kind", "title", "state", "created", "printed_at", "attempts", "last_error")}
                for r in self._rows()]

    # -- public API -------------------------------------------------------------------------------
    def submit(self, job: Print) -> PrintOutcome:
        """Print now, or keep the job until the printer is back. Never raises."""
        try:
            job_id = self.keep(job)
        except Exception as exc:  # the queue cannot be written (disk full...): try once at least
            log.error("print queue write failed, printing without keeping the job: %s", exc)
            return self.print_now(job)
        return self.flush(job_id)

    def keep(self, job: Print) -> str:
        """Make the job wait for the printer: durably (persist=True) or in memory only. Returns
        its id. Fast (one SQLite insert): the device layer calls it before printing in the
        background, so a job is safe before anyone is told it will print."""
        self._preview(job)
        with self._state:
            if job.persist:
                return self._store(job)
            if self._refuses(job):
                job_id = f"r{next(self._mem_ids)}"
                self._refused[job_id] = (job.layout.title, job.job)
                return job_id
            job_id = f"m{next(self._mem_ids)}"
            self._memory[job_id] = _Job(job_id, job.kind, job.layout, False, self.clock().isoformat(), job.job)
            return job_id

    def flush(self, job_id: str) -> PrintOutcome:
        """Print what waits, oldest first; the outcome for `job_id` (kept if it did not print)."""
        if job_id in self._refused:
            title, ref = self._refused.pop(job_id)
            return self._emit([self._refusal(title, job_id, ref)])[0]
        with self._lock:
            tried = self._retry_locked()
        self._emit(tried)
        with self._lock:
            for outcome in tried:
                if outcome.job_id == job_id:
                    return outcome
            if job_id in self._memory:
                return PrintOutcome(False, self._kept_message(self._memory[job_id].layout.title, self.last_state, False),
                                    job_id, self.last_state, kept=True)
            rows = [r for r in self._rows("pending") if str(r["id"]) == str(job_id)]
            if rows:
                return PrintOutcome(False, self._kept_message(rows[0]["title"], self.last_state, True), job_id,
                                    self.last_state, kept=True)
            done = [r for r in self._rows() if str(r["id"]) == str(job_id)]
            title = done[0]["title"] if done else "Utskriften"
            return PrintOutcome(True, f"{title}: utskriven.", job_id)  # printed meanwhile by another flush

    def print_now(self, job: Print) -> PrintOutcome:
        """Send once, without the queue (`kiosk print-test`; a queue that cannot be written)."""
        if self._refuses(job):
            return self._emit([self._refusal(job.layout.title, None, job.job)])[0]
        try:
            self.transport.send(render(job.layout, self.codepage, self.profile))
            self.last_state = OK
            outcome = PrintOutcome(True, f"{job.layout.title}: utskriven.", None, ref=job.job)
        except PrinterUnavailable as exc:
            self.last_state = exc.state
            log.warning("printing %s failed: printer %s (%s)", job.kind, exc.state, exc.detail)
            outcome = PrintOutcome(False, f"{job.layout.title} kunde inte skrivas ut. {STATUS_SV[exc.state]}", None,
                                   exc.state, ref=job.job)
        return self._emit([outcome])[0]

    def _drain(self) -> dict[str, PrintOutcome]:
        """Print every kept persistent job in order; stop at the first failure (keep order)."""
        results: dict[str, PrintOutcome] = {}
        for row in self._rows("pending"):
            rid = row["id"]
            layout = layout_from_dict(json.loads(row["layout"]))
            try:
                self.transport.send(render(layout, self.codepage, self.profile))
            except PrinterUnavailable as exc:
                self.last_state = exc.state
                self._update(rid, attempts=row["attempts"] + 1, last_error=exc.detail or exc.state)
                log.warning("print job %s (%s) kept: printer %s (%s)", rid, row["kind"], exc.state, exc.detail)
                results[str(rid)] = PrintOutcome(False, self._kept_message(layout.title, exc.state, True), str(rid),
                                                 exc.state, kept=True, ref=row.get("ref"))
                break
            except Exception as exc:  # rendering: a bug, not the printer; keep the job
                log.exception("print job %s failed to render", rid)
                self._update(rid, attempts=row["attempts"] + 1, last_error=str(exc))
                results[str(rid)] = PrintOutcome(False, self._kept_message(layout.title, ERROR, True), str(rid), ERROR,
                                                 kept=True, ref=row.get("ref"))
                break
            self.last_state = OK
            self._update(rid, state="printed", attempts=row["attempts"] + 1, printed_at=self.clock().isoformat(), last_error="")
            log.info("printed job %s (%s)", rid, row["kind"])
            results[str(rid)] = PrintOutcome(True, f"{layout.title}: utskriven.", str(rid), ref=row.get("ref"))
        return results

    def _try_memory(self, job_id: str) -> PrintOutcome:
        with self._state:
            job = self._memory.get(job_id)
        if job is None:
            return PrintOutcome(True, "Utskriven.", job_id)
        try:
            self.transport.send(render(job.layout, self.codepage, self.profile))
        except PrinterUnavailable as exc:
            self.last_state = exc.state
            # No detail in the log beyond the kind: the layout holds a personnummer.
            log.warning("print job %s (%s, not persisted) waits in memory: printer %s", job_id, job.kind, exc.state)
            return PrintOutcome(False, self._kept_message(job.layout.title, exc.state, False), job_id, exc.state, kept=True,
                                ref=job.ref)
        self.last_state = OK
        with self._state:
            self._memory.pop(job_id, None)  # printed: the personnummer leaves memory too
        return PrintOutcome(True, f"{job.layout.title}: utskriven.", job_id, ref=job.ref)

    def retry(self) -> list[PrintOutcome]:
        """Print every kept job (persistent ones in order, then those in memory)."""
        with self._lock:
            out = self._retry_locked()
        return self._emit(out)

    def _retry_locked(self) -> list[PrintOutcome]:
        with self._lock:
            out = [o for o in self._drain().values()]
            if out and not out[-1].ok:
                return out
            with self._state:
                waiting = list(self._memory)
            for job_id in waiting:
                outcome = self._try_memory(job_id)
                out.append(outcome)
                if not outcome.ok:
                    break
            return out

    def reprint(self, job_id: str) -> PrintOutcome:
        """Print a job again on request (a persistent job, printed or not)."""
        return self._emit([self._reprint(job_id)])[0]

    def _reprint(self, job_id: str) -> PrintOutcome:
        with self._lock:
            if job_id in self._memory:
                return self._try_memory(job_id)
            if str(job_id).startswith("m"):
                return PrintOutcome(False, "Etiketten med personnummer sparas inte. Mata in personnumret igen.", job_id, self.last_state)
            try:
                rid = int(job_id)
            except (TypeError, ValueError):
                return PrintOutcome(False, "Utskriften finns inte.", str(job_id), self.last_state)
            rows = [r for r in self._rows() if r["id"] == rid]
            if not rows:
                return PrintOutcome(False, "Utskriften finns inte längre.", str(job_id), self.last_state)
            row = rows[0]
            self._update(rid, state="pending")
            results = self._drain()
            outcome = results.get(str(rid))
            if outcome is None:
                return PrintOutcome(False, self._kept_message(row["title"], self.last_state, True), str(rid), self.last_state, kept=True)
            return outcome

    def pending(self) -> int:
        with self._state:
            return len(self._rows("pending")) + len(self._memory)

    def waiting_refs(self) -> set[str]:
        """The refs (routine print job ids) of the jobs that wait for the printer."""
        with self._state:
            refs = {r.get("ref") for r in self._rows("pending")} | {j.ref for j in self._memory.values()}
        return {r for r in refs if r}

    def printed_refs(self) -> set[str]:
        """The refs of the kept jobs the printer took (the queue keeps printed jobs a while)."""
        with self._state:
            return {r["ref"] for r in self._rows() if r["state"] == "printed" and r.get("ref")}

    def pending_jobs(self) -> list[dict]:
        """What waits, for the screen: id, kind, title, persisted or memory-only."""
        with self._state:
            rows = [{"id": str(r["id"]), "kind": r["kind"], "title": r["title"], "persist": True} for r in self._rows("pending")]
            rows += [{"id": j.id, "kind": j.kind, "title": j.layout.title, "persist": False} for j in self._memory.values()]
            return rows

    def status(self) -> tuple[str, str]:
        """(state, Swedish message): ok | offline | no_paper | error. Asks the printer (waits for
        a job being sent, and up to printer.timeout_s): on the UI thread use `last_state`."""
        with self._lock:
            try:
                state, detail = self.transport.status()
            except Exception as exc:
                state, detail = ERROR, str(exc)
        self.last_state = state
        if state == OK and detail == "paper low":
            return OK, PAPER_LOW_SV
        return state, STATUS_SV[state]

    def detail(self) -> tuple[str, str]:
        """(state, English detail) for logs and `kiosk devices`."""
        with self._lock:
            try:
                return self.transport.status()
            except Exception as exc:
                return ERROR, str(exc)

    def last_preview_png(self, kind: str) -> bytes | None:
        return self._previews.get(kind)

    def forget_previews(self, kind: str | None = None) -> None:
        """Drop in-memory previews (the UI calls this when the dödsbo label leaves the screen)."""
        if kind is None:
            self._previews.clear()
        else:
            self._previews.pop(kind, None)

    def close(self) -> None:
        if self.db is not None:
            try:
                self.db.conn.close()
            except Exception:
                pass
            self.db = None
            self._db_jobs, self._db_ids = {}, itertools.count(1)

    # -- helpers -------------------------------------------------------------------------------
    def _refuses(self, job: Print) -> bool:
        """A job that holds a personnummer is never sent to a transport that keeps the bytes."""
        return not job.persist and bool(getattr(self.transport, "keeps_bytes", True))

    def _emit(self, outcomes: list[PrintOutcome]) -> list[PrintOutcome]:
        """Tell the outcome listeners (outside the printer's lock) what happened to jobs with a ref."""
        for outcome in outcomes:
            if outcome.ref is None:
                continue
            for listener in list(self.outcome_listeners):
                try:
                    listener(outcome)
                except Exception:
                    log.exception("print outcome listener failed")
        return outcomes

    def _refusal(self, title: str, job_id: str | None, ref: str | None = None) -> PrintOutcome:
        log.warning("a print job holding a personnummer was not printed: the printer (%s) would keep it on "
                    "disk; only its on-screen preview exists. Configure a real printer (printer.backend), "
                    "or printer.path as a device node such as /dev/usb/lp0", self.transport.describe())
        return PrintOutcome(False, NOT_ON_DISK_SV.format(title=title), job_id, ERROR, ref=ref)

    def _preview(self, job: Print) -> None:
        try:
            png = preview.png_bytes(job.layout, self.codepage)
        except Exception:
            log.exception("preview of %s failed", job.kind)
            return
        self._previews[job.kind] = png
        if job.persist and self.preview_dir is not None:
            try:
                self.preview_dir.mkdir(parents=True, exist_ok=True)
                stamp = self.clock().strftime("%Y%m%dT%H%M%S%f")
                (self.preview_dir / f"{stamp}-{job.kind}.png").write_bytes(png)
            except OSError as exc:
                log.warning("cannot save preview: %s", exc)

    @staticmethod
    def _kept_message(title: str, state: str, persisted: bool) -> str:
        reason = {
            OFFLINE: "Skrivaren svarar inte.",
            NO_PAPER: "Skrivaren har slut på papper. Lägg i en ny rulle.",
            ERROR: "Skrivaren rapporterar ett fel.",
        }.get(state, "Utskriften misslyckades.")
        if persisted:
            return f"{reason} {title} är sparad och skrivs ut när skrivaren fungerar igen."
        return (f"{reason} {title} sparas inte eftersom den innehåller ett personnummer. Den skrivs ut när "
                "skrivaren fungerar igen, så länge kiosken inte startas om; annars matas personnumret in på nytt.")
