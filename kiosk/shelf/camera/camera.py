"""The camera adapter, chosen by `[camera] backend` (none | picamera2 | v4l2 | files), as thin as
the scanner's: `grab()` gives the current frame as a PIL image in memory, or None.

- `picamera2`: the Raspberry Pi Camera Module 3 (Pi OS only; imported lazily).
- `v4l2`: any V4L2/USB camera through OpenCV when it is installed (imported lazily).
- `files`: frames from a folder, in name order, one per `advance()` (the simulator's
  "Nästa kuvert", tests). The folder's files are the input; nothing is written back.
Frames are never saved: each backend hands over an in-memory image and keeps no copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class CameraUnavailable(RuntimeError):
    """The configured camera cannot be used; the message is Swedish, for the screen and doctor."""


class NoCamera:
    backend = "none"

    def grab(self) -> Image.Image | None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"backend": "none", "ok": False, "detail": "ingen kamera inställd (camera.backend = none)"}

    def close(self) -> None:
        pass


class FilesCamera:
    """A folder of frames. `grab()` shows the current one; `advance()` lays the next envelope,
    `clear()` takes it away (an empty spot); at the end of the folder the spot stays empty."""

    backend = "files"

    def __init__(self, folder: Path):
        if not folder.is_dir():
            raise CameraUnavailable(f"Kameramappen {folder} finns inte.")
        self.folder = folder
        self.paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self.index = -1  # nothing laid yet

    def advance(self) -> bool:
        """The next envelope; False when the folder is used up."""
        if self.index + 1 >= len(self.paths):
            self.index = len(self.paths)
            return False
        self.index += 1
        return True

    def clear(self) -> None:
        self.index = len(self.paths) if self.index >= 0 else -1

    @property
    def name(self) -> str | None:
        return self.paths[self.index].name if 0 <= self.index < len(self.paths) else None

    def grab(self) -> Image.Image | None:
        if not 0 <= self.index < len(self.paths):
            return None
        with Image.open(self.paths[self.index]) as img:
            img.load()
            return img.copy()

    def describe(self) -> dict[str, Any]:
        return {"backend": "files", "ok": True, "detail": f"{len(self.paths)} bilder i {self.folder}"}

    def close(self) -> None:
        pass


class V4L2Camera:
    backend = "v4l2"

    def __init__(self, device: str, width: int, height: int):
        try:
            import cv2  # type: ignore[import-not-found]
        except ImportError:
            raise CameraUnavailable("USB-kameran (v4l2) behöver OpenCV (python3-opencv), som inte är "
                                    "installerat.") from None
        if not Path(device).exists():
            raise CameraUnavailable(f"Ingen kamera på {device}. Kontrollera kabeln.")
        self._cv2 = cv2
        self._cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
        if not self._cap.isOpened():
            raise CameraUnavailable(f"Kameran på {device} gick inte att öppna.")
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.device = device

    def grab(self) -> Image.Image | None:
        ok, frame = self._cap.read()
        if not ok:
            return None
        return Image.fromarray(self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB))

    def describe(self) -> dict[str, Any]:
        return {"backend": "v4l2", "ok": True, "detail": f"USB-kamera {self.device}"}

    def close(self) -> None:
        self._cap.release()


class Picamera2Camera:
    backend = "picamera2"

    def __init__(self, width: int, height: int):
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError:
            raise CameraUnavailable("Raspberry Pi-kameran (picamera2) finns bara på Raspberry Pi OS: "
                                    "installera python3-picamera2 där, eller välj camera.backend = v4l2 "
                                    "eller files.") from None
        try:
            self._cam = Picamera2()
            self._cam.configure(self._cam.create_still_configuration(main={"size": (width, height),
                                                                           "format": "RGB888"}))
            self._cam.start()
        except Exception as exc:  # no camera on the ribbon cable, or in use by another process
            raise CameraUnavailable(f"Raspberry Pi-kameran svarar inte ({type(exc).__name__}). "
                                    "Kontrollera kabeln.") from None

    def grab(self) -> Image.Image | None:
        return self._cam.capture_image("main")

    def describe(self) -> dict[str, Any]:
        return {"backend": "picamera2", "ok": True, "detail": "Raspberry Pi Camera (picamera2)"}

    def close(self) -> None:
        self._cam.stop()
        self._cam.close()


def open_camera(config) -> NoCamera | FilesCamera | V4L2Camera | Picamera2Camera:
    """The configured camera; CameraUnavailable (Swedish) when it cannot be used."""
    c = config.camera
    if c.backend == "none":
        return NoCamera()
    if c.backend == "files":
        return FilesCamera(config.data_path(c.folder))
    if c.backend == "v4l2":
        return V4L2Camera(c.device, c.width, c.height)
    if c.backend == "picamera2":
        return Picamera2Camera(c.width, c.height)
    raise CameraUnavailable(f"Okänd kamera: {c.backend}")


def describe(config) -> dict[str, Any]:
    """What `kiosk devices` and `kiosk doctor` say about the camera (opens and closes it)."""
    try:
        cam = open_camera(config)
    except CameraUnavailable as exc:
        return {"backend": config.camera.backend, "ok": False, "detail": str(exc)}
    try:
        out = cam.describe()
    finally:
        cam.close()
    if config.camera.backend != "none":
        from .vision import RecognitionUnavailable, tessdata_dir

        try:
            import tesserocr  # noqa: F401
            import zxingcpp  # noqa: F401
        except ImportError as exc:
            return {**out, "ok": False, "detail": f"{out['detail']}; igenkänningen saknar {exc.name}"}
        if tessdata_dir() is None:
            return {**out, "ok": False, "detail": str(RecognitionUnavailable("tesseract-ocr-swe saknas"))}
    return out
