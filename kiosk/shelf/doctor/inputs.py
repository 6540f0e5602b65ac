"""Scanner and badge reader: the configured device is there and readable."""

from __future__ import annotations

import os
from pathlib import Path

from .base import Check, System, fel, info, ok, simulated


def input_devices(system: System) -> list[dict]:
    """Every evdev node, from sysfs (no need to open it): path, name, vendor:product."""
    out = []
    base = system.sys_root / "class" / "input"
    for ev in sorted(base.glob("event*")):
        dev = ev / "device"

        def read(rel: str, dev: Path = dev) -> str:
            try:
                return (dev / rel).read_text().strip()
            except OSError:
                return ""

        out.append({"path": str(system.dev_root / "input" / ev.name), "name": read("name"),
                    "id": f"{read('id/vendor')}:{read('id/product')}".lower()})
    return out


def _match_input(spec: str, devices: list[dict], system: System) -> dict | None:
    """The device `spec` names, by the same rules the kiosk's own finder uses (kiosk.shelf.hw.inputs)."""
    from ..hw.inputs import VIDPID_RE, name_matches

    if spec.startswith("/"):
        target = os.path.realpath(spec)
        if os.path.exists(spec):
            return {"path": target, "name": next((d["name"] for d in devices if d["path"] == target), ""),
                    "id": next((d["id"] for d in devices if d["path"] == target), "")}
        return None
    if VIDPID_RE.match(spec):
        found = [d for d in devices if d["id"] == spec.lower()]
    else:
        found = [d for d in devices if name_matches(spec, d["name"])]
    return found[0] if found else None


def check_input(role: str, section, cfg, system: System) -> Check:
    name = {"scanner": "Streckkodsläsare", "badge_reader": "Brickläsare"}[role]
    spec = section.device.strip()
    if simulated(cfg, system):
        return info(name, "simulatorläge: tangentbordet används i stället")
    if not spec:
        if role == "badge_reader":
            return info(name, "ingen brickläsare inställd (inloggning med signatur på skärmen)")
        return fel(name, "ingen läsare inställd (scanner.device är tom)",
                   "Kör installationen igen med --scanner VID:PID (se `lsusb`), "
                   "eller skriv scanner.device i inställningsfilen.")
    devices = input_devices(system)
    found = _match_input(spec, devices, system)
    if found is None:
        seen = ", ".join(f"{d['name']} ({d['id']})" for d in devices) or "inga"
        return fel(name, f"hittades inte: {spec} (anslutna inmatningsenheter: {seen})",
                   "Kontrollera att läsaren sitter i en USB-port och lyser. Dra ur och sätt i den "
                   "igen. Står den ändå inte med: är det rätt VID:PID i inställningen? (`lsusb`)")
    path = found["path"]
    if not os.access(path, os.R_OK | os.W_OK):
        return fel(name, f"{path} finns men kiosken får inte läsa den",
                   "Lägg kioskanvändaren i gruppen input (installationen gör det) och starta om "
                   "datorn, eller kör doctor som kioskanvändaren: sudo -u kiosk ...")
    label = f"{found['name']} ({found['id']})" if found.get("name") else path
    return ok(name, f"{label} på {path}")
