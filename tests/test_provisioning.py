"""The installer (provisioning/install.sh) run against throw-away roots.

Under --root the installer writes every file below the root and prints the steps that act on
the running system (apt-get, useradd, chown, pip, systemctl) as "plan: ..." lines; these tests
check both. What they cannot check here: that apt, pip and systemctl then succeed on a real Pi.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kiosk import config as kconfig

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "provisioning" / "install.sh"

KIOSK_ARGS = ["--site", "sthlm", "--kiosk-id", "k1", "--broker-host", "broker.example",
              "--scanner", "05E0:1200", "--badge", "RFID*", "--printer", "usb:0416:5011",
              "--display", "td2", "--data-device", "/dev/disk/by-label/returpost-data"]


USB = ("--printer", "usb:0416:5011")  # a kiosk needs a real printer


def install(root: Path, *args: str, env: dict | None = None, check: bool = True):
    done = subprocess.run(["bash", str(INSTALL), *args, "--root", str(root)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=120)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def fake_pi(root: Path) -> Path:
    """The bits of a fresh Raspberry Pi OS image the installer edits or reads."""
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/config.txt").write_text(
        "# stock\ndtparam=audio=on\ncamera_auto_detect=1\ndisplay_auto_detect=1\n"
        "[all]\ndtoverlay=vc4-kms-v3d\n")
    (root / "boot/firmware/cmdline.txt").write_text(
        "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 "
        "fsck.repair=yes rootwait\n")
    (root / "etc").mkdir()
    (root / "etc/group").write_text("input:x:101:\nvideo:x:44:\ngpio:x:997:\nlp:x:7:\n")
    return root


def tree(root: Path) -> dict:
    """Every file and directory: mode, content hash and mtime (a rewrite with the same bytes
    still shows)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISREG(st.st_mode):
                out[rel] = (oct(st.st_mode), hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mtime_ns)
            else:
                out[rel] = (oct(st.st_mode),)
    return out


def plans(done) -> list[str]:
    return [line[len("plan: "):] for line in done.stdout.splitlines() if line.startswith("plan: ")]


@pytest.fixture
def pw_file(tmp_path):
    f = tmp_path / "mqtt-password"
    f.write_text("s3cret \"quoted\" \\ pw\n")
    return f


# -- kiosk role ---------------------------------------------------------------------------------

def test_kiosk_install_writes_config_units_udev_and_boot(tmp_path, pw_file):
    root = fake_pi(tmp_path / "root")
    done = install(root, "kiosk", *KIOSK_ARGS, "--mqtt-password-file", str(pw_file),
                   "--ca-file", str(ROOT / "README.md"))

    cfg_path = root / "etc/returpost-kiosk/config.toml"
    cfg = kconfig.load(cfg_path)
    assert (cfg.kiosk.site, cfg.kiosk.id) == ("sthlm", "k1")
    assert cfg.kiosk.data_dir == "/var/lib/returpost-kiosk"
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls) == ("broker.example", 8883, True)
    assert cfg.mqtt.username == "sthlm/k1"
    assert cfg.mqtt.password == 's3cret "quoted" \\ pw'   # a hostile password survives TOML
    assert cfg.mqtt.ca_file == "/etc/returpost-kiosk/ca.crt"
    assert (root / "etc/returpost-kiosk/ca.crt").read_bytes() == (ROOT / "README.md").read_bytes()
    assert cfg.scanner.device == "/dev/input/returpost-scanner"
    assert cfg.badge_reader.device == "RFID*"
    assert (cfg.printer.backend, cfg.printer.usb_vendor, cfg.printer.usb_product) == ("usb", 0x0416, 0x5011)
    # everything the kiosk writes is in the state directory (the only writable place)
    assert cfg.printer.preview_dir.startswith("/var/lib/returpost-kiosk/")
    # no printer file on disk: dödsbo labels carry personnummer
    assert cfg.printer.backend != "file" and "printer.bin" not in cfg_path.read_text()
    assert cfg.journal_path == Path("/var/lib/returpost-kiosk/journal.db")
    assert (cfg.ui.size, cfg.ui.fullscreen) == ("720x1280", True)
    # the password file is readable by root and the kiosk group only
    assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o640
    assert stat.S_IMODE((root / "etc/returpost-kiosk").stat().st_mode) == 0o750
    p = plans(done)
    assert "chown root:kiosk /etc/returpost-kiosk/config.toml" in p
    assert "chown kiosk:kiosk /var/lib/returpost-kiosk" in p
    assert stat.S_IMODE((root / "var/lib/returpost-kiosk").stat().st_mode) == 0o750
    assert any(x.startswith("useradd --system") and x.endswith(" kiosk") for x in p)
    # only the groups this system has (gpio exists on Raspberry Pi OS, not on plain Debian)
    assert {x for x in p if x.startswith("usermod")} == {
        "usermod -aG input kiosk", "usermod -aG video kiosk", "usermod -aG gpio kiosk",
        "usermod -aG lp kiosk"}
    assert "systemctl enable returpost-kiosk.service" in p
    assert "systemctl enable systemd-time-wait-sync.service" in p
    assert any(x.startswith("apt-get install") and "python3-venv" in x for x in p)
    assert ("/opt/returpost-kiosk/venv/bin/pip install -c /opt/returpost-kiosk/src/constraints.txt "
            "/opt/returpost-kiosk/src[kiosk,pi]") in p  # pinned versions

    units = root / "etc/systemd/system"
    assert (units / "returpost-kiosk.service").read_text() == (ROOT / "systemd/returpost-kiosk.service").read_text()
    groups = (units / "returpost-kiosk.service.d/groups.conf").read_text()
    assert "SupplementaryGroups=input gpio lp video\n" in groups
    mount = (units / "var-lib-returpost\\x2dkiosk.mount").read_text()
    assert "What=/dev/disk/by-label/returpost-data" in mount
    assert "Where=/var/lib/returpost-kiosk" in mount
    assert (root / "etc/systemd/system.conf.d/returpost-watchdog.conf").read_text().count("RuntimeWatchdogSec=") == 1

    rules = (root / "etc/udev/rules.d/99-returpost-kiosk.rules").read_text()
    assert 'ATTRS{idVendor}=="05e0", ATTRS{idProduct}=="1200", SYMLINK+="input/returpost-scanner"' in rules
    assert 'SYMLINK+="returpost-printer", GROUP="lp"' in rules
    assert "returpost-badge" not in rules   # a name pattern, not a VID:PID: no udev rule

    boot = (root / "boot/firmware/config.txt").read_text()
    assert boot.startswith("# stock\ndtparam=audio=on\n")          # the user's part is kept
    block = boot[boot.index("# BEGIN returpost-kiosk"):]
    assert "dtparam=watchdog=on" in block and "dtoverlay=vc4-kms-dsi-ili9881-7inch" in block
    assert block.rstrip().endswith("# END returpost-kiosk")
    cmdline = (root / "boot/firmware/cmdline.txt").read_text()
    assert cmdline.count("\n") == 1 and "consoleblank=0" in cmdline.split()
    assert cmdline.startswith("console=serial0,115200 console=tty1 root=PARTUUID=1234-02")

    # the project's code is in place for pip
    assert (root / "opt/returpost-kiosk/src/kiosk/cli.py").read_bytes() == (ROOT / "kiosk/cli.py").read_bytes()
    assert not (root / "opt/returpost-kiosk/src/.venv").exists()


def test_rerun_changes_nothing(tmp_path, pw_file):
    root = fake_pi(tmp_path / "root")
    first = install(root, "kiosk", *KIOSK_ARGS, "--mqtt-password-file", str(pw_file))
    assert not first.stdout.rstrip().endswith("done: 0 changes (under %s)" % root)
    before = tree(root)
    again = install(root, "kiosk", *KIOSK_ARGS, "--mqtt-password-file", str(pw_file))
    assert tree(root) == before
    assert again.stdout.rstrip().endswith(f"done: 0 changes (under {root})")
    assert "wrote" not in again.stdout
    # and with no options at all: the installed config and install.conf are the memory
    bare = install(root, "kiosk")
    assert tree(root) == before, bare.stdout
    assert bare.stdout.rstrip().endswith("done: 0 changes (under %s)" % root)


def test_changed_option_rewrites_only_what_it_touches(tmp_path):
    root = fake_pi(tmp_path / "root")
    install(root, "kiosk", *KIOSK_ARGS)
    boot = root / "boot/firmware/config.txt"
    boot.write_text(boot.read_text() + "# added by hand after the install\nhdmi_blanking=1\n")
    before = tree(root)
    done = install(root, "kiosk", "--display", "official-7")
    after = tree(root)
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed == {"boot/firmware/config.txt", "etc/returpost-kiosk/config.toml",
                       "etc/returpost-kiosk/install.conf"}, done.stdout
    text = boot.read_text()
    assert text.count("# BEGIN returpost-kiosk") == 1 and text.count("# END returpost-kiosk") == 1
    assert "vc4-kms-dsi-ili9881-7inch" not in text and "hdmi_blanking=1" in text
    assert kconfig.load(root / "etc/returpost-kiosk/config.toml").ui.size == "800x480"


def test_td2_landscape_turns_kivy_not_the_kernel(tmp_path):
    root = fake_pi(tmp_path / "root")
    install(root, "kiosk", "--site", "s", "--kiosk-id", "k", "--broker-host", "b", "--display", "td2-landscape",
            *USB)
    dropin = root / "etc/systemd/system/returpost-kiosk.service.d/display.conf"
    assert "Environment=KCFG_GRAPHICS_ROTATION=90" in dropin.read_text()
    assert kconfig.load(root / "etc/returpost-kiosk/config.toml").ui.size == "1280x720"


def test_bad_values_stop_the_installer_naming_the_key(tmp_path):
    root = fake_pi(tmp_path / "root")
    done = install(root, "kiosk", "--site", "bad site!", "--kiosk-id", "k1", "--broker-host", "b", *USB,
                   check=False)
    assert done.returncode == 2
    assert "kiosk.site" in done.stderr
    assert not (root / "etc/returpost-kiosk/config.toml").exists()

    done = install(root, "kiosk", "--site", "s", *USB, check=False)
    assert done.returncode == 2 and "kiosk.id" in done.stderr

    done = install(root, "kiosk", "--site", "s", "--kiosk-id", "k", *USB, check=False)
    assert done.returncode == 2 and "mqtt.host" in done.stderr

    done = install(root, "kiosk", "--site", "s", "--kiosk-id", "k", "--broker-host", "b",
                   "--printer", "usb:nope", check=False)
    assert done.returncode == 2 and "usb:VID:PID" in done.stderr

    bad = tmp_path / "bad.toml"
    bad.write_text("[kiosk]\nsite = 's'\nid = 'k'\n[printer]\nbackend = 'laser'\n")
    done = install(root, "kiosk", "--config", str(bad), "--broker-host", "b", check=False)
    assert done.returncode == 2 and "printer.backend" in done.stderr

    done = install(root, "kiosk", "--bogus", check=False)
    assert done.returncode == 2 and "unknown argument: --bogus" in done.stderr


def test_a_kiosk_needs_a_real_printer(tmp_path):
    """No printer file on disk by default (dödsbo labels carry personnummer)."""
    root = fake_pi(tmp_path / "root")
    base = ["kiosk", "--site", "s", "--kiosk-id", "k", "--broker-host", "b"]
    done = install(root, *base, check=False)
    assert done.returncode == 2 and "a kiosk needs a real printer: give --printer usb:VID:PID" in done.stderr
    assert not (root / "etc/returpost-kiosk").exists() and not (root / "opt").exists()  # nothing changed
    for spec in ("file", "file:/var/lib/returpost-kiosk/printer.bin", "dummy"):
        done = install(root, *base, "--printer", spec, check=False)
        assert done.returncode == 2 and "personnummer" in done.stderr, (spec, done.stderr)
        assert not (root / "etc/returpost-kiosk/config.toml").exists()
    on_disk = tmp_path / "on-disk.toml"
    on_disk.write_text('[printer]\nbackend = "file"\npath = "/tmp/labels.bin"\n')
    done = install(root, *base, "--config", str(on_disk), check=False)
    assert done.returncode == 2 and "printer.path = '/tmp/labels.bin'" in done.stderr
    install(root, *base, "--printer", "file:/dev/usb/lp0")
    cfg = kconfig.load(root / "etc/returpost-kiosk/config.toml")
    assert (cfg.printer.backend, cfg.printer.path) == ("file", "/dev/usb/lp0")
    again = install(root, *base)  # a re-run keeps the installed printer
    assert "done: 0 changes" in again.stdout


def test_not_a_pi_leaves_boot_alone(tmp_path):
    root = tmp_path / "root"
    done = install(root, "kiosk", "--site", "s", "--kiosk-id", "k", "--broker-host", "b", *USB)
    assert "not a Raspberry Pi" in done.stdout
    assert not (root / "boot").exists()
    # no groups file in this root: no usermod planned, and an empty SupplementaryGroups=
    assert not [p for p in plans(done) if p.startswith("usermod")]


# -- central role and the bundle it makes for each kiosk ------------------------------------------

def test_central_install_and_kiosk_from_bundle(tmp_path):
    central = tmp_path / "central"
    done = install(central, "central", "--broker-name", "broker.example",
                   "--kiosk", "sthlm/k1", "--kiosk", "gbg/k2")
    etc = central / "etc/returpost-kiosk"
    users = dict(line.split() for line in (etc / "central/users.txt").read_text().splitlines())
    assert set(users) == {"central", "sthlm/k1", "gbg/k2"}
    assert ("/opt/returpost-kiosk/venv/bin/pip install -c /opt/returpost-kiosk/src/constraints.txt "
            "/opt/returpost-kiosk/src[central]") in done.stdout  # the central role, no Kivy
    assert len(set(users.values())) == 3 and all(len(p) >= 32 for p in users.values())
    assert stat.S_IMODE((etc / "central/users.txt").stat().st_mode) == 0o600

    mosq = central / "etc/mosquitto"
    assert (mosq / "mosquitto.conf").read_text() == (ROOT / "provisioning/mosquitto/mosquitto.conf").read_text()
    assert (mosq / "returpost/acl").read_text() == (ROOT / "provisioning/mosquitto/acl").read_text()
    passwd = (mosq / "returpost/passwd").read_text().splitlines()
    assert sorted(line.split(":")[0] for line in passwd) == ["central", "gbg/k2", "sthlm/k1"]
    assert all(users[u] not in "\n".join(passwd) for u in users)      # hashed, not plain
    assert stat.S_IMODE((mosq / "returpost/certs/server.key").stat().st_mode) == 0o600
    p = plans(done)
    assert "chown mosquitto:mosquitto /etc/mosquitto/returpost/passwd" in p
    assert "systemctl enable returpost-central.service" in p
    assert "systemctl enable returpost-web.service" in p  # web: the TL web app
    # the server certificate names the broker and is signed by the CA the kiosks get
    out = subprocess.run(["openssl", "verify", "-CAfile", str(mosq / "returpost/certs/ca.crt"),
                          str(mosq / "returpost/certs/server.crt")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    san = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                          str(mosq / "returpost/certs/server.crt")], capture_output=True, text=True)
    assert "DNS:broker.example" in san.stdout

    ccfg = kconfig.load(etc / "config.toml")
    assert ccfg.central.username == "central" and ccfg.central.password == users["central"]
    assert ccfg.central.db == "/var/lib/returpost-central/central.db"
    assert (ccfg.mqtt.host, ccfg.mqtt.port) == ("127.0.0.1", 1883)

    # re-run: nothing changes (the salted password file is not re-hashed)
    before = tree(central)
    again = install(central, "central", "--kiosk", "sthlm/k1")
    assert tree(central) == before and again.stdout.rstrip().endswith(f"done: 0 changes (under {central})")
    # a new kiosk: added, the others keep their passwords
    install(central, "central", "--kiosk", "sthlm/k3")
    users2 = dict(line.split() for line in (etc / "central/users.txt").read_text().splitlines())
    assert {k: users2[k] for k in users} == users and "sthlm/k3" in users2

    bundle = etc / "central/kiosks/gbg__k2"
    kiosk = fake_pi(tmp_path / "kiosk")
    install(kiosk, "kiosk", "--bundle", str(bundle), "--scanner", "05e0:1200", *USB)
    kcfg = kconfig.load(kiosk / "etc/returpost-kiosk/config.toml")
    assert (kcfg.kiosk.site, kcfg.kiosk.id) == ("gbg", "k2")
    assert (kcfg.mqtt.username, kcfg.mqtt.password) == ("gbg/k2", users["gbg/k2"])
    assert (kcfg.mqtt.host, kcfg.mqtt.port, kcfg.mqtt.tls) == ("broker.example", 8883, True)
    assert (kiosk / "etc/returpost-kiosk/ca.crt").read_bytes() == (mosq / "returpost/certs/ca.crt").read_bytes()


def test_central_with_the_organisations_certificates(tmp_path):
    tls = tmp_path / "tls"
    subprocess.run([str(ROOT / "provisioning/mosquitto/make-test-ca"), str(tls), "broker.example"],
                   check=True, capture_output=True)
    root = tmp_path / "central"
    install(root, "central", "--tls-dir", str(tls), "--kiosk", "s/k")
    certs = root / "etc/mosquitto/returpost/certs"
    for f in ("ca.crt", "server.crt", "server.key"):
        assert (certs / f).read_bytes() == (tls / f).read_bytes()
    assert not (root / "etc/returpost-kiosk/central/ca").exists()      # no CA made here
    bundle = root / "etc/returpost-kiosk/central/kiosks/s__k/ca.crt"
    assert bundle.read_bytes() == (tls / "ca.crt").read_bytes()
    before = tree(root)
    again = install(root, "central")                                    # without --tls-dir
    assert tree(root) == before, again.stdout
    assert "keeping the broker certificates" in again.stdout


def test_central_bad_kiosk_name(tmp_path):
    done = install(tmp_path / "c", "central", "--kiosk", "no-slash", check=False)
    assert done.returncode == 2 and "SITE/ID" in done.stderr


# -- lint and unit verification -------------------------------------------------------------------

def shell_scripts() -> list[Path]:
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, text=True, check=True)
    out = []
    for rel in files.stdout.split():
        p = ROOT / rel
        if not p.is_file():
            continue
        head = p.read_bytes()[:64]
        if p.suffix == ".sh" or re.match(rb"#!\s*/(usr/)?bin/(env )?(ba)?sh\b", head):
            out.append(p)
    return out


def test_shellcheck_passes_on_all_shell():
    assert shutil.which("shellcheck"), "shellcheck missing: scripts/setup test installs it"
    scripts = shell_scripts()
    assert INSTALL in scripts and ROOT / "scripts/setup" in scripts
    done = subprocess.run(["shellcheck", "-x", *map(str, scripts)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def _verify(root: Path, *units: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", f"--root={root}", "verify",
                           *(str(root / "etc/systemd/system" / u) for u in units)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def verify_root(tmp_path_factory):
    """A root with both roles installed, the distribution's units (targets, mosquitto.service)
    and a stub for the venv's `kiosk` binary, which pip would have made (not run under --root)."""
    assert shutil.which("systemd-analyze"), "systemd-analyze missing: scripts/setup test installs it"
    root = fake_pi(tmp_path_factory.mktemp("verify") / "root")
    install(root, "kiosk", *KIOSK_ARGS)
    install(root, "central", "--broker-name", "b", "--kiosk", "s/k")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    stub = root / "opt/returpost-kiosk/venv/bin/kiosk"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    return root


def test_units_pass_systemd_analyze_verify(verify_root):
    done = _verify(verify_root, "returpost-kiosk.service", "returpost-central.service", "returpost-web.service",
                   "var-lib-returpost\\x2dkiosk.mount")
    # verify exits 0 on unknown keys and bad values too: it only prints them. So: no output.
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stderr


def test_verify_would_catch_a_broken_unit(verify_root):
    unit = verify_root / "etc/systemd/system/returpost-kiosk.service"
    broken = unit.with_name("returpost-broken.service")
    broken.write_text(unit.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
    done = _verify(verify_root, broken.name)
    assert "Unknown key" in done.stderr and "NoNewPrivilege" in done.stderr


def test_kiosk_unit_has_the_required_settings():
    unit = (ROOT / "systemd/returpost-kiosk.service").read_text()
    settings = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            settings.setdefault(k, []).append(v)
    one = {k: v[-1] for k, v in settings.items()}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert int(one["WatchdogSec"]) > 0 and one["Restart"] == "always"
    assert "time-sync.target" in " ".join(settings["After"]) and one["Wants"] == "time-sync.target"
    assert one["NoNewPrivileges"] == "yes" and one["ProtectSystem"] == "strict"
    assert one["PrivateTmp"] == "yes" and one["StateDirectory"] == "returpost-kiosk"
    assert one["ReadWritePaths"] == "/var/lib/returpost-kiosk"
    env = dict(e.split("=", 1) for e in settings["Environment"])
    assert env["SDL_VIDEODRIVER"] == "kmsdrm" and env["KIVY_WINDOW"] == "sdl2"
    assert env["KIVY_HOME"].startswith("/var/lib/returpost-kiosk/")   # Kivy writes there
    assert one["User"] == "kiosk"
    # device access must stay open: these would hide /dev/input, /dev/dri and the printer
    assert not {"PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock"} & set(settings)


UDEV_PAIR = re.compile(r'^\s*(?P<key>[A-Z_]+)(\{(?P<attr>[A-Za-z0-9_]+)\})?\s*(?P<op>==|!=|\+=|:=|=)\s*"(?P<value>[^"]*)"\s*$')
UDEV_MATCH = {"SUBSYSTEM", "KERNEL", "ENV", "ATTR", "ATTRS", "DRIVERS", "SUBSYSTEMS"}
UDEV_ASSIGN = {"SYMLINK", "GROUP", "MODE", "OWNER", "ENV", "TAG"}


def test_udev_rules_are_well_formed(tmp_path):
    """No udevadm here (a container): a parser for the rule syntax we use, per line."""
    root = fake_pi(tmp_path / "root")
    install(root, "kiosk", "--site", "s", "--kiosk-id", "k", "--broker-host", "b",
            "--scanner", "05e0:1200", "--badge", "ffff:0035", "--printer", "serial-usb:1a86:7523")
    text = (root / "etc/udev/rules.d/99-returpost-kiosk.rules").read_text()
    rules = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert len(rules) == 3
    links = []
    for rule in rules:
        pairs = [UDEV_PAIR.match(part + ('"' if not part.endswith('"') else "")) for part in rule.split('",')]
        assert all(pairs), rule
        for m in pairs:
            if m["op"] in ("==", "!="):
                assert m["key"] in UDEV_MATCH, rule
            else:
                assert m["key"] in UDEV_ASSIGN, rule
            if m["key"] == "SYMLINK":
                links.append(m["value"])
            if m["key"] in ("ATTR", "ATTRS") and m["attr"] in ("idVendor", "idProduct"):
                assert re.fullmatch(r"[0-9a-f]{4}", m["value"]), rule
    assert links == ["input/returpost-scanner", "input/returpost-badge", "returpost-printer"]
    cfg = kconfig.load(root / "etc/returpost-kiosk/config.toml")
    assert cfg.badge_reader.device == "/dev/input/returpost-badge"
    assert (cfg.printer.backend, cfg.printer.serial_port) == ("serial", "/dev/returpost-printer")


def test_firmware_fragment_is_plain_config_txt():
    for f in [ROOT / "firmware/config.txt", *sorted((ROOT / "firmware/display").glob("*.txt"))]:
        for line in f.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                assert re.fullmatch(r"\[[a-z0-9]+\]|[a-z_0-9]+=[A-Za-z0-9_,=.:-]+", line), (f, line)
    assert "dtparam=watchdog=on" in (ROOT / "firmware/config.txt").read_text().splitlines()


def test_each_role_has_its_own_script_with_the_same_behaviour(tmp_path):
    """install-kiosk.sh / install-central.sh run directly are `install.sh kiosk|central`."""
    for role in ("kiosk", "central"):
        script = ROOT / "provisioning" / f"install-{role}.sh"
        done = subprocess.run(["bash", str(script), "--root", str(tmp_path / role), "--bogus"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "unknown argument: --bogus" in done.stderr
    done = subprocess.run(["bash", str(ROOT / "provisioning/install-kiosk.sh"), "--root", str(tmp_path / "k"),
                           "--site", "s", "--kiosk-id", "k", "--broker-host", "b"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "a kiosk needs a real printer" in done.stderr  # the kiosk role ran
    lib = (ROOT / "provisioning/lib.sh").read_text()
    assert "put_file()" in lib and "install_kiosk()" not in lib and "install_central()" not in lib


def test_wheelhouse_for_a_fleet_and_pinned_installs(tmp_path):
    """`install.sh wheelhouse DIR` builds the wheels once; `--wheelhouse DIR` installs from them;
    every install is pinned by constraints.txt (plans under --root)."""
    done = install(tmp_path / "w", "wheelhouse", str(tmp_path / "wheels"), "--no-packages")
    assert (f"plan: python3 -m pip wheel -q -c {ROOT}/constraints.txt -w {tmp_path / 'wheels'} {ROOT}[kiosk,pi]"
            in done.stdout)
    done = install(tmp_path / "w", "wheelhouse", check=False)
    assert done.returncode == 2 and "install.sh wheelhouse DIR" in done.stderr

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    root = fake_pi(tmp_path / "root")
    done = install(root, "kiosk", *KIOSK_ARGS, "--wheelhouse", str(wheels))
    assert (f"plan: /opt/returpost-kiosk/venv/bin/pip install -c /opt/returpost-kiosk/src/constraints.txt "
            f"--find-links {wheels} /opt/returpost-kiosk/src[kiosk,pi]") in done.stdout
    assert (root / "opt/returpost-kiosk/src/constraints.txt").read_bytes() == (ROOT / "constraints.txt").read_bytes()
    done = install(root, "kiosk", *KIOSK_ARGS, "--wheelhouse", str(tmp_path / "nope"), check=False)
    assert done.returncode == 2 and "no such folder" in done.stderr
