"""The receipt printer of the configured backend is there and usable."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from .base import Check, System, _why, fel, info, ok


def _usb_devices(system: System) -> list[dict]:
    out = []
    for d in sorted((system.sys_root / "bus" / "usb" / "devices").glob("*")):
        try:
            vid = (d / "idVendor").read_text().strip().lower()
            pid = (d / "idProduct").read_text().strip().lower()
        except OSError:
            continue

        def num(n: str, d: Path = d) -> int | None:
            try:
                return int((d / n).read_text().strip())
            except (OSError, ValueError):
                return None

        out.append({"id": f"{vid}:{pid}", "bus": num("busnum"), "dev": num("devnum")})
    return out


def check_printer(cfg, system: System) -> Check:
    name = "Skrivare"
    p = cfg.printer
    backend = p.backend
    if backend == "dummy":
        return info(name, "printer.backend = dummy: utskrifter kastas (bara för test)")
    if backend == "file":
        path = cfg.data_path(p.path)
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        target = path if path.exists() else parent
        if os.access(target, os.W_OK):
            return ok(name, f"fil: {path} (ingen riktig skrivare; förhandsbilder i stället)")
        return fel(name, f"fil: {path} går inte att skriva",
                   "Ge kioskanvändaren skrivrätt till mappen, eller ställ in rätt skrivare "
                   "(printer.backend = usb, serial eller network).")
    if backend == "usb":
        want = f"{p.usb_vendor:04x}:{p.usb_product:04x}"
        found = [d for d in _usb_devices(system) if d["id"] == want]
        if not found:
            return fel(name, f"USB-skrivaren {want} hittades inte",
                       "Kontrollera att skrivaren är påslagen och att USB-kabeln sitter i. "
                       "Står den inte med i `lsusb`: prova en annan kabel eller port.")
        d = found[0]
        node = system.dev_root / "bus" / "usb" / f"{d['bus'] or 0:03d}" / f"{d['dev'] or 0:03d}"
        if d["bus"] and node.exists() and not os.access(node, os.R_OK | os.W_OK):
            return fel(name, f"USB-skrivaren {want} finns men kiosken får inte använda den ({node})",
                       "Installera udev-regeln (installationen med --printer usb:VID:PID) och "
                       "lägg kioskanvändaren i gruppen lp; dra ur och sätt i skrivaren.")
        return ok(name, f"USB-skrivare {want}" + (f" ({node})" if d["bus"] else ""))
    if backend == "serial":
        port = Path(p.serial_port)
        if not port.exists():
            return fel(name, f"serieporten {port} finns inte",
                       "Kontrollera kabeln och USB-seriell-adaptern; rätt port i printer.serial_port?")
        if not stat.S_ISCHR(port.stat().st_mode):
            return fel(name, f"{port} är ingen serieport", "Ställ in rätt printer.serial_port.")
        if not os.access(port, os.R_OK | os.W_OK):
            return fel(name, f"{port} finns men kiosken får inte använda den",
                       "Lägg kioskanvändaren i gruppen dialout (installationen gör det).")
        return ok(name, f"serieport {port} ({p.baudrate} baud)")
    if backend == "network":
        try:
            with socket.create_connection((p.host, p.port), timeout=system.net_timeout):
                pass
        except OSError as exc:
            return fel(name, f"nätverksskrivaren {p.host}:{p.port} svarar inte ({_why(exc)})",
                       "Kontrollera att skrivaren är påslagen och har nätverk, och att adressen "
                       "i printer.host stämmer (skriv ut skrivarens inställningssida).")
        return ok(name, f"nätverksskrivare {p.host}:{p.port} svarar")
    return fel(name, f"okänd printer.backend {backend}", "Rätta inställningsfilen.")
