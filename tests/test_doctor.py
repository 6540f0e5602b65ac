"""`kiosk doctor` against this machine's reality: a real mosquitto set up by the installer's
central role (TLS, per-kiosk users, the ACL) on free ports, real sockets, a real pty as the
serial port, real journals. Devices this container does not have (USB, /dev/input) are shown to
the doctor as prepared sysfs trees."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk.core import config as kconfig
from kiosk.central import doctor as central_doctor
from kiosk.shelf import doctor
from kiosk.shelf.doctor import cli as doctor_cli
from kiosk.core.clock import utc_iso
from kiosk.wire.journal import Journal
from kiosk_dev.localbroker import free_port, port_open

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "provisioning" / "install.sh"


def status_of(checks, name):
    return next(c for c in checks if c.name == name)


def write_cfg(path: Path, text: str):
    path.write_text(text)
    return kconfig.load(path)


# -- a broker exactly as the central role installs it ----------------------------------------------

class InstalledBroker:
    """Runs /usr/sbin/mosquitto with the config the installer wrote under a throw-away root,
    with only paths, ports and logging changed."""

    def __init__(self, tmp: Path):
        self.root = tmp / "central"
        done = subprocess.run(["bash", str(INSTALL), "central", "--root", str(self.root),
                               "--broker-name", "localhost", "--kiosk", "sthlm/k1",
                               "--kiosk", "sthlm/k2"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        self.tls_port, self.plain_port = free_port(), free_port()
        etc = self.root / "etc/mosquitto"
        lines = ["user root"] if os.geteuid() == 0 else []
        for line in (etc / "mosquitto.conf").read_text().splitlines():
            if line.startswith(("log_dest", "log_type")):
                continue
            line = line.replace("/etc/mosquitto/", f"{etc}/")
            line = re.sub(r"^listener 8883$", f"listener {self.tls_port} 127.0.0.1", line)
            line = re.sub(r"^listener 1883 127.0.0.1$", f"listener {self.plain_port} 127.0.0.1", line)
            line = re.sub(r"^persistence_location .*", f"persistence_location {tmp}/", line)
            lines.append(line)
        lines += ["log_dest stderr", "log_type error", "log_type warning"]
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.log = open(tmp / "mosquitto.log", "wb")
        self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(self.conf)],
                                     stdout=self.log, stderr=self.log)
        for _ in range(500):
            if port_open(self.tls_port) and port_open(self.plain_port):
                break
            assert self.proc.poll() is None, (tmp / "mosquitto.log").read_text()
            subprocess.run(["sleep", "0.02"])
        else:
            raise AssertionError("mosquitto did not listen")

    def bundle(self, kiosk: str) -> Path:
        return self.root / "etc/returpost-kiosk/central/kiosks" / kiosk.replace("/", "__")

    def kiosk_config(self, tmp: Path, kiosk: str = "sthlm/k1", **mqtt) -> kconfig.Config:
        """The bundle's config as a kiosk installs it, pointed at this broker's port."""
        b = self.bundle(kiosk)
        text = (b / "config.toml").read_text()
        text = text.replace('ca_file = "/etc/returpost-kiosk/ca.crt"', f'ca_file = "{b}/ca.crt"')
        text = text.replace("port = 8883", f"port = {mqtt.pop('port', self.tls_port)}")
        for key, value in mqtt.items():
            text = re.sub(rf"^{key} = .*$", f"{key} = {json.dumps(value)}", text, flags=re.M)
        text += f'\n[printer]\nbackend = "file"\npath = "{tmp}/data/printer.bin"\n'
        text = text.replace("[kiosk]\n", f'[kiosk]\ndata_dir = "{tmp}/data"\nhardware = "simulator"\n', 1)
        return write_cfg(tmp / "kiosk.toml", text)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = InstalledBroker(tmp_path_factory.mktemp("broker"))
    yield b
    b.stop()


def fast() -> doctor.System:
    return doctor.System(broker_timeout=5.0)


def test_broker_ok_with_the_bundle_credentials_over_tls(broker, tmp_path):
    cfg = broker.kiosk_config(tmp_path)
    c = doctor.check_broker(cfg, fast())
    assert c.status == "OK", c
    assert f"mqtts://sthlm/k1@localhost:{broker.tls_port}" in c.detail


def test_broker_wrong_password_is_refused(broker, tmp_path):
    cfg = broker.kiosk_config(tmp_path, password="not-the-password")
    c = doctor.check_broker(cfg, fast())
    assert c.status == "FEL" and "inloggningen nekades" in c.detail
    assert "--bundle" in c.fix
    # v3.1.1 gets the same plain words
    cfg = broker.kiosk_config(tmp_path, password="not-the-password", protocol="v311")
    assert "inloggningen nekades" in doctor.check_broker(cfg, fast()).detail


def test_broker_another_kiosks_password_is_refused(broker, tmp_path):
    other = (broker.bundle("sthlm/k2") / "config.toml").read_text()
    pw = re.search(r'password = "(.*)"', other).group(1)
    cfg = broker.kiosk_config(tmp_path, password=pw)
    assert doctor.check_broker(cfg, fast()).status == "FEL"


def test_broker_closed_port(broker, tmp_path):
    closed = free_port()
    cfg = broker.kiosk_config(tmp_path, port=closed)
    c = doctor.check_broker(cfg, fast())
    assert c.status == "FEL" and "porten är stängd" in c.detail


def test_broker_untrusted_certificate(broker, tmp_path):
    other_ca = tmp_path / "otherca"
    subprocess.run([str(ROOT / "provisioning/mosquitto/make-test-ca"), str(other_ca)], check=True,
                   capture_output=True)
    cfg = broker.kiosk_config(tmp_path, ca_file=str(other_ca / "ca.crt"))
    c = doctor.check_broker(cfg, fast())
    assert c.status == "FEL" and "certifikatet godtas inte" in c.detail


def test_broker_tls_on_the_plain_port(broker, tmp_path):
    cfg = broker.kiosk_config(tmp_path, port=broker.plain_port)
    c = doctor.check_broker(cfg, fast())
    assert c.status == "FEL" and ("TLS" in c.detail or "inget svar" in c.detail), c


def test_broker_missing_ca_file(broker, tmp_path):
    cfg = broker.kiosk_config(tmp_path, ca_file=str(tmp_path / "nope.crt"))
    c = doctor.check_broker(cfg, fast())
    assert c.status == "FEL" and "saknas" in c.detail


def test_doctor_cli_end_to_end(broker, tmp_path):
    """The whole command, in a subprocess, against the installed broker and a real journal with
    one event that has waited too long."""
    cfg = broker.kiosk_config(tmp_path)
    j = Journal(cfg.journal_path, "sthlm", "k1")
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)
    j.append([("note", {"text": "x"})], now=old, day=old.date(), operator="ANNA")
    j.db.conn.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(tmp_path / "kiosk.toml"),
                           "doctor", "--json"], capture_output=True, text=True, env=env, timeout=60)
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    assert done.returncode == 1               # something is FEL: the stale event (and the clock here)
    assert checks["Inställningar"]["status"] == "OK"
    assert checks["Central (MQTT)"]["status"] == "OK"
    assert checks["Journal"]["status"] == "OK"
    assert checks["Osända händelser"]["status"] == "FEL"
    assert "1 händelser väntar" in checks["Osända händelser"]["detail"]
    assert checks["Streckkodsläsare"]["status"] == "INFO"   # simulator
    text = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(tmp_path / "kiosk.toml"),
                           "doctor"], capture_output=True, text=True, env=env, timeout=60).stdout
    assert re.search(r"^FEL  Osända händelser", text, re.M)
    assert "Gör så här:" in text and "fel hittades" in text
    assert cfg.mqtt.password not in text and cfg.mqtt.password not in done.stdout


def test_invalid_config_is_exit_2_naming_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt]\nport = 99999\n")
    rc = doctor_cli.main(SimpleNamespace(config=str(bad), json=False, min_free_mb=1))
    out = capsys.readouterr().out
    assert rc == 2 and out.startswith("FEL ") and "mqtt.port" in out


# -- devices, from prepared sysfs trees -------------------------------------------------------------

def fake_input(sys_root: Path, dev_root: Path, n: int, name: str, vid: str, pid: str):
    d = sys_root / "class/input" / f"event{n}" / "device"
    (d / "id").mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    (d / "id/vendor").write_text(vid + "\n")
    (d / "id/product").write_text(pid + "\n")
    (dev_root / "input").mkdir(parents=True, exist_ok=True)
    (dev_root / "input" / f"event{n}").write_text("")


def pi_cfg(tmp_path: Path, extra: str = "") -> kconfig.Config:
    return write_cfg(tmp_path / "c.toml", f'[kiosk]\nhardware = "pi"\ndata_dir = "{tmp_path}/data"\n{extra}')


def test_scanner_found_by_vidpid_name_or_path(tmp_path):
    sysr, devr = tmp_path / "sys", tmp_path / "dev"
    fake_input(sysr, devr, 0, "gpio-keys", "0000", "0000")
    fake_input(sysr, devr, 3, "Honeywell Scanner", "0C2E", "0B61")
    system = doctor.System(sys_root=sysr, dev_root=devr)
    for spec in ("0c2e:0b61", "honeywell*", "Scanner", str(devr / "input/event3")):
        cfg = pi_cfg(tmp_path, f'[scanner]\ndevice = "{spec}"\n')
        c = doctor.check_input("scanner", cfg.scanner, cfg, system)
        assert c.status == "OK" and str(devr / "input/event3") in c.detail, (spec, c)
    cfg = pi_cfg(tmp_path, '[scanner]\ndevice = "05e0:1200"\n')
    c = doctor.check_input("scanner", cfg.scanner, cfg, system)
    assert c.status == "FEL" and "Honeywell Scanner (0c2e:0b61)" in c.detail and "USB" in c.fix
    cfg = pi_cfg(tmp_path)
    assert doctor.check_input("scanner", cfg.scanner, cfg, system).status == "FEL"      # not set
    assert doctor.check_input("badge_reader", cfg.badge_reader, cfg, system).status == "INFO"


def test_this_machine_has_no_scanner(tmp_path):
    cfg = pi_cfg(tmp_path, '[scanner]\ndevice = "/dev/input/returpost-scanner"\n')
    c = doctor.check_input("scanner", cfg.scanner, cfg, doctor.System())
    assert c.status == "FEL" and "hittades inte" in c.detail


def test_usb_printer_from_sysfs(tmp_path):
    sysr, devr = tmp_path / "sys", tmp_path / "dev"
    d = sysr / "bus/usb/devices/1-1.3"
    d.mkdir(parents=True)
    for k, v in {"idVendor": "0416", "idProduct": "5011", "busnum": "1", "devnum": "4"}.items():
        (d / k).write_text(v + "\n")
    (devr / "bus/usb/001").mkdir(parents=True)
    (devr / "bus/usb/001/004").write_text("")
    system = doctor.System(sys_root=sysr, dev_root=devr)
    cfg = pi_cfg(tmp_path, '[printer]\nbackend = "usb"\n')
    c = doctor.check_printer(cfg, system)
    assert c.status == "OK" and "0416:5011" in c.detail and "001/004" in c.detail
    cfg = pi_cfg(tmp_path, '[printer]\nbackend = "usb"\nusb_product = 0x5012\n')
    assert doctor.check_printer(cfg, system).status == "FEL"


def test_serial_printer_on_a_real_pty(tmp_path):
    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        cfg = pi_cfg(tmp_path, f'[printer]\nbackend = "serial"\nserial_port = "{port}"\n')
        assert doctor.check_printer(cfg, doctor.System()).status == "OK"
    finally:
        os.close(master)
        os.close(slave)
    cfg = pi_cfg(tmp_path, '[printer]\nbackend = "serial"\nserial_port = "/dev/returpost-printer"\n')
    c = doctor.check_printer(cfg, doctor.System())
    assert c.status == "FEL" and "finns inte" in c.detail
    cfg = pi_cfg(tmp_path, f'[printer]\nbackend = "serial"\nserial_port = "{tmp_path}/c.toml"\n')
    assert "ingen serieport" in doctor.check_printer(cfg, doctor.System()).detail


def test_network_printer_listening_and_closed(tmp_path):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        cfg = pi_cfg(tmp_path, f'[printer]\nbackend = "network"\nhost = "127.0.0.1"\nport = {port}\n')
        assert doctor.check_printer(cfg, doctor.System()).status == "OK"
    cfg = pi_cfg(tmp_path, f'[printer]\nbackend = "network"\nhost = "127.0.0.1"\nport = {free_port()}\n')
    c = doctor.check_printer(cfg, doctor.System())
    assert c.status == "FEL" and "porten är stängd" in c.detail


def test_display_needs_a_drm_card(tmp_path):
    cfg = pi_cfg(tmp_path)
    assert doctor.check_display(cfg, doctor.System(dev_root=tmp_path / "dev")).status == "FEL"
    (tmp_path / "dev/dri").mkdir(parents=True)
    (tmp_path / "dev/dri/card1").write_text("")
    assert doctor.check_display(cfg, doctor.System(dev_root=tmp_path / "dev")).status == "OK"


def test_auto_hardware_means_simulator_off_a_pi(tmp_path):
    cfg = write_cfg(tmp_path / "c.toml", '[kiosk]\nhardware = "auto"\n')
    model = tmp_path / "model"
    model.write_text("Raspberry Pi 5 Model B Rev 1.0\x00")
    assert not doctor.simulated(cfg, doctor.System(model=model))
    model.write_text("QEMU\x00")
    assert doctor.simulated(cfg, doctor.System(model=model))
    assert doctor.simulated(cfg, doctor.System(model=tmp_path / "none"))


# -- clock, storage, journal -------------------------------------------------------------------------

def runner(stdout="", exc=None):
    def run(*a, **k):
        if exc:
            raise exc
        return subprocess.CompletedProcess(a, 0, stdout, "")
    return run


def test_clock_from_timedatectl_or_the_kernel(tmp_path):
    cfg = pi_cfg(tmp_path)
    assert doctor.check_clock(cfg, doctor.System(run=runner("yes\n"))).status == "OK"
    assert doctor.check_clock(cfg, doctor.System(run=runner("no\n"))).status == "FEL"
    nosd = FileNotFoundError("timedatectl")
    assert doctor.check_clock(cfg, doctor.System(run=runner(exc=nosd), adjtimex=lambda: (0, 0x2001))).status == "OK"
    assert doctor.check_clock(cfg, doctor.System(run=runner(exc=nosd), adjtimex=lambda: (5, 0x40))).status == "FEL"
    # this machine: what timedatectl says, else what the kernel says
    try:
        td = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                            capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        td = ""
    if td in ("yes", "no"):
        expected = "OK" if td == "yes" else "FEL"
    else:
        state, status = doctor._adjtimex()
        expected = "FEL" if state == 5 or status & 0x40 else "OK"
    assert doctor.check_clock(cfg, doctor.System()).status == expected


PI_OVERLAY = """\
22 1 0:21 / / rw,noatime - overlay overlayroot rw,lowerdir=/media/root-ro,upperdir=/media/root-rw/overlay,workdir=/media/root-rw/overlay-workdir
23 22 0:22 / /media/root-rw rw - tmpfs tmpfs-root rw
24 22 179:2 / /media/root-ro ro - ext4 /dev/mmcblk0p2 ro
"""
PI_OVERLAY_WITH_DATA = PI_OVERLAY + "30 22 179:3 / /var/lib/returpost-kiosk rw,noatime - ext4 /dev/mmcblk0p3 rw\n"
PLAIN = "21 1 179:2 / / rw,noatime - ext4 /dev/mmcblk0p2 rw\n"
TMPFS_VAR = PLAIN + "25 21 0:30 / /var/lib rw - tmpfs tmpfs rw\n"
CONTAINER = "500 400 0:50 / / rw - overlay overlay rw,lowerdir=/var/lib/docker/l/X,upperdir=/var/lib/docker/overlay2/abc/diff,workdir=/w\n"


@pytest.mark.parametrize("table,status", [(PI_OVERLAY, "FEL"), (PI_OVERLAY_WITH_DATA, "OK"),
                                          (PLAIN, "OK"), (TMPFS_VAR, "FEL"), (CONTAINER, "OK")])
def test_persistent_storage_for_the_journal(tmp_path, table, status):
    mi = tmp_path / "mountinfo"
    mi.write_text(table)
    c = doctor.check_persistent(Path("/var/lib/returpost-kiosk"), doctor.System(mountinfo=mi))
    assert c.status == status, c
    if status == "FEL":
        assert "--data-device" in c.fix


def test_persistent_storage_here(tmp_path):
    c = doctor.check_persistent(tmp_path, doctor.System())
    assert c.status in ("OK", "FEL") and str(tmp_path) in c.detail


def test_disk_space(tmp_path):
    assert doctor.check_disk(tmp_path, 1).status == "OK"
    c = doctor.check_disk(tmp_path, 10**9)
    assert c.status == "FEL" and "MB ledigt" in c.detail


def test_journal_states(tmp_path):
    cfg = pi_cfg(tmp_path)
    me = doctor.System()
    j, p = doctor.check_journal(cfg, me)
    assert j.status == "FEL" and "finns inte" in j.detail           # no data dir yet
    (tmp_path / "data").mkdir()
    j, p = doctor.check_journal(cfg, me)
    assert j.status == "OK" and p.status == "OK" and not list((tmp_path / "data").iterdir())
    other = doctor.System(euid=lambda: os.geteuid() + 1)
    assert doctor.check_journal(cfg, other)[0].status == "FEL"     # would create files as root

    journal = Journal(cfg.journal_path, cfg.kiosk.site, cfg.kiosk.id)
    now = dt.datetime.now(dt.timezone.utc)
    events = journal.append([("note", {"n": 1}), ("note", {"n": 2})], now=now, day=now.date(), operator=None)
    j, p = doctor.check_journal(cfg, me)
    assert j.status == "OK" and "2 händelser hittills" in j.detail
    assert p.status == "OK" and p.detail.startswith("2 väntar")
    later = doctor.System(now=lambda: now + dt.timedelta(hours=2))
    p = doctor.check_journal(cfg, later)[1]
    assert p.status == "FEL" and "2 händelser väntar" in p.detail and utc_iso(now) in p.detail
    journal.mark_sent([e["seq"] for e in events], now)
    p = doctor.check_journal(cfg, later)[1]  # the broker took them; central has not confirmed
    assert p.status == "FEL" and "inte bekräftade av centralen" in p.detail and "v311" in p.fix
    journal.set_confirmed(events[-1]["seq"])
    assert doctor.check_journal(cfg, later)[1].status == "OK"
    assert doctor.check_journal(cfg, other)[0].status == "FEL"
    journal.db.conn.close()

    wrong = write_cfg(tmp_path / "w.toml", f'[kiosk]\nid = "k9"\ndata_dir = "{tmp_path}/data"\n')
    j = doctor.check_journal(wrong, me)[0]
    assert j.status == "FEL" and "tillhör demo/kiosk-1" in j.detail


def test_a_check_that_breaks_is_reported_not_raised(tmp_path, monkeypatch):
    cfg = write_cfg(tmp_path / "c.toml", f'[kiosk]\nhardware = "simulator"\ndata_dir = "{tmp_path}"\n'
                                         '[mqtt]\nenabled = false\n')
    monkeypatch.setattr(doctor, "check_printer", lambda *a: 1 / 0)
    checks = doctor.run_checks(cfg, doctor.System(run=runner("yes\n")), min_free_mb=1)
    broken = [c for c in checks if "ZeroDivisionError" in c.detail]
    assert len(broken) == 1 and broken[0].status == "FEL"
    assert status_of(checks, "Central (MQTT)").status == "INFO"


# -- the central host -------------------------------------------------------------------------------

def central_config(broker, tmp_path, **central):
    """The central config the installer wrote, pointed at this broker's loopback port."""
    text = (broker.root / "etc/returpost-kiosk/config.toml").read_text()
    text = text.replace("port = 1883", f"port = {broker.plain_port}")
    text = text.replace('"/var/lib/returpost-central', f'"{tmp_path}/central')
    for key, value in central.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {json.dumps(value)}", text, flags=re.M)
    return write_cfg(tmp_path / "central.toml", text)


def test_central_doctor_against_the_installed_broker(broker, tmp_path):
    cfg = central_config(broker, tmp_path)
    system = doctor.System(broker_cert=broker.root / "etc/mosquitto/returpost/certs/server.crt")
    (tmp_path / "central").mkdir()
    checks = {c.name: c for c in central_doctor.run_central_checks(cfg, system, min_free_mb=1)}
    assert checks["Mäklaren (MQTT)"].status == "OK", checks["Mäklaren (MQTT)"]
    assert "mqtt://central@127.0.0.1" in checks["Mäklaren (MQTT)"].detail
    assert checks["Mäklarens certifikat"].status == "OK"          # 825 days from the installer
    assert checks["Centrala databasen"].status == "OK"
    assert not list((tmp_path / "central").iterdir())             # the doctor made no files

    bad = central_config(broker, tmp_path, password="wrong")
    c = doctor.check_broker(bad, system, central=True)
    assert c.status == "FEL" and "install.sh central" in c.fix


def test_broker_certificate_about_to_expire(tmp_path):
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "5",
                    "-subj", "/CN=x", "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    c = central_doctor.check_broker_cert(doctor.System(broker_cert=crt))
    assert c.status == "FEL" and ("om 4 dagar" in c.detail or "om 5 dagar" in c.detail), c
    later = doctor.System(broker_cert=crt, now=lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=9))
    assert "gick ut" in central_doctor.check_broker_cert(later).detail
    assert central_doctor.check_broker_cert(doctor.System(broker_cert=tmp_path / "none")).status == "INFO"


def test_central_db_checks(tmp_path):
    cfg = write_cfg(tmp_path / "c.toml", f'[central]\ndb = "{tmp_path}/central/central.db"\n')
    assert central_doctor.check_central_db(cfg, doctor.System()).status == "FEL"     # no folder
    (tmp_path / "central").mkdir()
    assert central_doctor.check_central_db(cfg, doctor.System()).status == "OK"
    import sqlite3
    sqlite3.connect(tmp_path / "central/central.db").execute("create table t(x)").connection.close()
    assert central_doctor.check_central_db(cfg, doctor.System()).status == "OK"
    other = doctor.System(euid=lambda: os.geteuid() + 1)
    assert central_doctor.check_central_db(cfg, other).status == "FEL"


def test_central_db_checks_on_postgresql(tmp_path):
    """central.db a URL: reached and writable is OK (saying when it is still empty); a server that
    does not answer is FEL, without the URL's password."""
    from kiosk.central.store import CentralStore
    from kiosk_dev.pgtest import temp_database

    with temp_database() as url:
        cfg = write_cfg(tmp_path / "c.toml", f'[central]\ndb = "{url}"\n')
        check = central_doctor.check_central_db(cfg, doctor.System())
        assert check.status == "OK" and "tomt" in check.detail
        CentralStore(url).close()
        check = central_doctor.check_central_db(cfg, doctor.System())
        assert check.status == "OK" and "tomt" not in check.detail
    cfg = write_cfg(tmp_path / "d.toml", '[central]\ndb = "postgresql://central:s3cret@127.0.0.1:1/returpost"\n')
    check = central_doctor.check_central_db(cfg, doctor.System())
    assert check.status == "FEL" and "svarar inte" in check.detail and "s3cret" not in check.detail


def completed(rc, out="", err=""):
    return lambda *a, **k: subprocess.CompletedProcess(a, rc, out, err)


def test_service_state():
    unit = "returpost-kiosk.service"
    assert doctor.check_service(unit, doctor.System(run=completed(0, "active\n"))).status == "OK"
    c = doctor.check_service(unit, doctor.System(run=completed(3, "failed\n")))
    assert c.status == "FEL" and "journalctl -u returpost-kiosk.service" in c.fix
    assert doctor.check_service(unit, doctor.System(run=completed(1, "", "System has not been booted with systemd"))).status == "INFO"
    # this machine: no systemd as PID 1 (a container), or a real answer
    real = doctor.check_service(unit, doctor.System())
    assert real.status in ("INFO", "FEL")


def test_hardware_watchdog(tmp_path):
    cfg = pi_cfg(tmp_path)
    assert doctor.check_hw_watchdog(cfg, doctor.System(dev_root=tmp_path / "dev")).status == "FEL"
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev/watchdog0").write_text("")
    assert doctor.check_hw_watchdog(cfg, doctor.System(dev_root=tmp_path / "dev")).status == "OK"
