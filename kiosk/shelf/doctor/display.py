"""The display: a DRM card the kiosk user may use."""

from __future__ import annotations

import os

from .base import Check, System, fel, info, ok, simulated


def check_display(cfg, system: System) -> Check:
    name = "Skärm"
    if simulated(cfg, system):
        return info(name, "simulatorläge: fönster på skrivbordet")
    cards = sorted((system.dev_root / "dri").glob("card*"))
    if not cards:
        return fel(name, "ingen grafikenhet (/dev/dri/card*)",
                   "Kontrollera att dtoverlay=vc4-kms-v3d finns i /boot/firmware/config.txt "
                   "och att skärmens kabel sitter i; starta om.")
    usable = [c for c in cards if os.access(c, os.R_OK | os.W_OK)]
    if not usable:
        return fel(name, f"{cards[0]} finns men kiosken får inte använda den",
                   "Lägg kioskanvändaren i grupperna video och render (installationen gör det).")
    return ok(name, ", ".join(str(c) for c in usable))
