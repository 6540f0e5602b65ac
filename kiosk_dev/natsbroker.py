"""A throwaway nats-server with MQTT and JetStream on free loopback ports, for tests.

    with LocalNats(tmp_dir, users={"central": "pw", "demo/kiosk-1": "pw"}, tls=True) as broker:
        ...broker.port...            # the MQTT listener (TLS when tls=True)

It runs `provisioning/nats/nats-server.conf` with only paths, ports and sizes changed, and the
users block made by `provisioning/nats/make-users` (bcrypt hashes, per-user permissions): the
tests prove the material that is deployed. Without `users` every client is let in (anonymous,
no permissions). JetStream (where NATS keeps MQTT sessions, retained messages and unacknowledged
QoS 1 deliveries) lives in `<workdir>/jetstream`; the ports and that directory survive
`stop()`/`kill()`/`start()`, so a restart, SIGKILL included, behaves like a real broker restart.

The machine's own nats-server (port 4222) is never touched: this one has its own ports, store
directory and config.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .localbroker import BrokerError, ServerProcess, free_port, port_open

NATS_SERVER = os.environ.get("NATS_SERVER", shutil.which("nats-server") or "/usr/sbin/nats-server")
ROOT = Path(__file__).resolve().parents[1]
PROVISIONING = ROOT / "provisioning" / "nats"
MAKE_TEST_CA = ROOT / "provisioning" / "mosquitto" / "make-test-ca"
ETC = "/etc/returpost-nats/"


def version() -> str | None:
    """`nats-server --version` ("2.9.10"), or None when it is not installed."""
    if not os.path.exists(NATS_SERVER):
        return None
    done = subprocess.run([NATS_SERVER, "--version"], capture_output=True, text=True, timeout=10)
    return done.stdout.strip().rsplit("v", 1)[-1] or None


class LocalNats(ServerProcess):
    engine = "nats"

    def __init__(self, workdir, *, users: dict[str, str] | None = None, tls: bool = False,
                 verbose: bool = False):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.users = dict(users or {})
        self.tls = tls
        self.verbose = verbose
        self.port = free_port()  # MQTT
        self.nats_port = free_port()  # the NATS protocol (no returpost user may use it)
        self.monitor_port = free_port()  # nats-server's HTTP monitoring (loopback, tests only)
        self.tls_port = self.port if tls else None
        self.proc: subprocess.Popen | None = None
        self.conf = self.dir / "nats-server.conf"
        self.log_path = self.dir / "nats-server.log"
        self.certs = self.dir / "certs"
        if tls:
            subprocess.run([str(MAKE_TEST_CA), str(self.certs)], check=True, capture_output=True)
        if self.users:
            self._make_users()
        self.conf.write_text(self.render(), encoding="utf-8")

    @property
    def ca_file(self) -> Path:
        return self.certs / "ca.crt"

    def _make_users(self) -> None:
        lines = "".join(f"{u} {p}\n" for u, p in self.users.items())
        env = dict(os.environ, RETURPOST_BCRYPT_ROUNDS="4")  # fast hashes for a throwaway broker
        done = subprocess.run([sys.executable, str(PROVISIONING / "make-users"), str(self.dir)],
                              input=lines, text=True, capture_output=True, env=env)
        if done.returncode != 0:
            raise BrokerError(f"make-users failed: {done.stderr}")

    def render(self) -> str:
        out = [f"# rendered by kiosk_dev/natsbroker.py for a test broker in {self.dir}"]
        depth_skip = 0
        for raw in (PROVISIONING / "nats-server.conf").read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if depth_skip:
                depth_skip += line.count("{") - line.count("}")
                continue
            if line.startswith("tls {") and not self.tls:
                depth_skip = 1
                continue
            if line.startswith("include users.conf") and not self.users:
                continue
            if line.startswith("listen: 127.0.0.1:4222"):
                line = f"listen: 127.0.0.1:{self.nats_port}"
            elif line.startswith("listen: 0.0.0.0:8883"):
                line = f"listen: 127.0.0.1:{self.port}"
            elif line.startswith("store_dir:"):
                line = f'store_dir: "{self.dir}"'
            elif line.startswith("max_file_store:"):
                line = "max_file_store: 256M"
            line = line.replace(ETC + "certs/", f"{self.certs}/")
            out.append(raw[:len(raw) - len(raw.lstrip())] + line)
        out.append(f"http: 127.0.0.1:{self.monitor_port}")
        if self.verbose:
            out.append("debug: true")
        return "\n".join(out + [""])

    # -- process -------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> "LocalNats":
        if self.proc and self.proc.poll() is None:
            return self
        deadline = time.monotonic() + timeout
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([NATS_SERVER, "-c", str(self.conf)], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"nats-server exited ({self.proc.returncode}): {self.log_text()[-2000:]}")
            if port_open(self.port) and "Server is ready" in self.log_text()[-4000:]:
                return self
            time.sleep(0.02)
        self.kill()
        raise BrokerError(f"nats-server did not listen on {self.port} in {timeout}s: {self.log_text()[-2000:]}")

    def subscriptions(self, client_id: str) -> set[str]:
        """The NATS subjects the MQTT client `client_id` is subscribed to now (monitoring API):
        `returpost/v1/+/+/events` shows as `returpost.v1.*.*.events`."""
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/connz?subs=detail&limit=1024",
                                    timeout=5) as r:
            doc = json.load(r)
        return {s["subject"] for c in doc.get("connections") or [] if c.get("mqtt_client") == client_id
                for s in c.get("subscriptions_list_detail") or []}

    @property
    def running(self) -> bool:
        return bool(self.proc and self.proc.poll() is None)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "LocalNats":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
