"""The camera above the shelf (optional): opens it, closes it, and checks the recognition packages."""

from __future__ import annotations

from .base import Check, System, fel, info, ok


def check_camera(cfg, system: System) -> Check:
    name = "Kamera"
    if cfg.camera.backend == "none":
        return info(name, "ingen kamera inställd (camera.backend = none): sortering med knapparna")
    from ..camera.camera import describe

    found = describe(cfg)
    if found["ok"]:
        return ok(name, f"{found['detail']} (camera.backend = {cfg.camera.backend})")
    return fel(name, found["detail"],
               "Kontrollera kamerans kabel och inställningen [camera]; kör installationen igen om ett paket "
               "saknas. Sortera med knapparna så länge.")
