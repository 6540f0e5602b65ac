"""A throwaway mosquitto on a free loopback port, for tests and benchmarks.

    with LocalBroker(tmp_dir) as broker:            # anonymous, plain, persistent
        ...broker.port...
    LocalBroker(tmp_dir, provisioning=True, users={"central": "pw", "demo/kiosk-1": "pw"},
                tls=True)                           # the provisioning config, rendered

With `provisioning=True` the broker runs `provisioning/mosquitto/mosquitto.conf` and its `acl`
with only paths, ports and logging changed, and a password file made by `make-passwd`: the
tests prove the material that is deployed. The broker keeps its port over `stop()`/`start()`,
and its persistence directory, so a restart behaves like a real broker restart.
"""

from __future__ import annotations

import getpass
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

MOSQUITTO = os.environ.get("MOSQUITTO", shutil.which("mosquitto") or "/usr/sbin/mosquitto")
# kiosk_dev/ lives only in a source checkout, beside provisioning/ ($RETURPOST_PROVISIONING overrides).
PROVISIONING = Path(os.environ.get("RETURPOST_PROVISIONING")
                    or Path(__file__).resolve().parents[1] / "provisioning") / "mosquitto"
ETC = "/etc/mosquitto/returpost/"


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server a test or benchmark starts. Under pytest-xdist each
    worker takes its ports from its own block below the kernel's ephemeral range (20000 + 1000 per
    worker), so two workers never pick the same port between this check and the server's bind."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        low = 20000 + (int(worker[2:]) % 12) * 1000
        for _ in range(200):
            port = random.randrange(low, low + 1000)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class BrokerError(RuntimeError):
    pass


class ServerProcess:
    """A throwaway server process (`self.proc`) the tests stop cleanly, kill or restart; the
    subclass says how to `start` it."""

    proc: subprocess.Popen | None = None

    def start(self):
        raise NotImplementedError

    def stop(self, timeout: float = 10.0) -> None:
        """A clean stop (SIGTERM): the server saves what it persists."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown at all (what a crash leaves behind)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class LocalBroker(ServerProcess):
    def __init__(self, workdir, *, provisioning: bool = False, users: dict[str, str] | None = None,
                 tls: bool = False, extra: str = "", verbose: bool = False):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.provisioning = provisioning
        self.users = users or {}
        self.tls = tls
        self.extra = extra
        self.verbose = verbose
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.proc: subprocess.Popen | None = None
        self.conf = self.dir / "mosquitto.conf"
        self.log_path = self.dir / "mosquitto.log"
        self.certs = self.dir / "certs"
        (self.dir / "data").mkdir(exist_ok=True)
        if tls:
            self._make_certs()
        if provisioning:
            self._make_passwd()
        self.conf.write_text(self.render(), encoding="utf-8")

    # -- material ------------------------------------------------------------------------------
    def _make_certs(self) -> None:
        subprocess.run([str(PROVISIONING / "make-test-ca"), str(self.certs)], check=True,
                       capture_output=True)

    @property
    def ca_file(self) -> Path:
        return self.certs / "ca.crt"

    def _make_passwd(self) -> None:
        lines = "".join(f"{u} {p}\n" for u, p in self.users.items())
        done = subprocess.run([sys.executable, str(PROVISIONING / "make-passwd"), str(self.dir)],
                              input=lines, text=True, capture_output=True)
        if done.returncode != 0:
            raise BrokerError(f"make-passwd failed: {done.stderr}")
        shutil.copy(PROVISIONING / "acl", self.dir / "acl")

    def render(self) -> str:
        head = [f"# rendered by kiosk_dev/localbroker.py for a test broker in {self.dir}"]
        if os.geteuid() == 0:
            head.append(f"user {getpass.getuser()}")  # mosquitto would drop to user mosquitto
        log = ["log_dest stderr", "log_type error", "log_type warning", "log_type notice"]
        if self.verbose:
            log += ["log_type information", "log_type subscribe"]
        if not self.provisioning:
            lines = head + [
                "per_listener_settings false",
                "allow_anonymous true",
                "persistence true",
                f"persistence_location {self.dir}/data/",
                "autosave_interval 30",
                "max_queued_messages 200000",
                "max_inflight_messages 100",
                *log,
                f"listener {self.port} 127.0.0.1",
            ]
            if self.tls:
                lines += [f"listener {self.tls_port} 127.0.0.1", f"cafile {self.certs}/ca.crt",
                          f"certfile {self.certs}/server.crt", f"keyfile {self.certs}/server.key"]
            return "\n".join(lines + [self.extra, ""])
        out = list(head)
        skip_tls = False
        for raw in (PROVISIONING / "mosquitto.conf").read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if line.startswith("log_dest") or line.startswith("log_type"):
                continue
            if line.startswith("listener 8883"):
                skip_tls = not self.tls
                if self.tls:
                    out.append(f"listener {self.tls_port} 127.0.0.1")
                continue
            if line.startswith("listener 1883"):
                skip_tls = False
                out.append(f"listener {self.port} 127.0.0.1")
                continue
            if skip_tls and line and not line.startswith("#"):
                continue
            line = line.replace(ETC + "certs/", f"{self.certs}/").replace(ETC, f"{self.dir}/")
            if line.startswith("persistence_location"):
                line = f"persistence_location {self.dir}/data/"
            out.append(line)
        out[1:1] = log
        return "\n".join(out + [self.extra, ""])

    # -- process -------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> "LocalBroker":
        if self.proc and self.proc.poll() is None:
            return self
        deadline = time.monotonic() + timeout
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        ports = [self.port] + ([self.tls_port] if self.tls_port else [])
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"mosquitto exited ({self.proc.returncode}): {self.log_text()[-2000:]}")
            if all(port_open(p) for p in ports):
                return self
            time.sleep(0.02)
        self.kill()
        raise BrokerError(f"mosquitto did not listen on {ports} in {timeout}s: {self.log_text()[-2000:]}")

    @property
    def running(self) -> bool:
        return bool(self.proc and self.proc.poll() is None)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "LocalBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
