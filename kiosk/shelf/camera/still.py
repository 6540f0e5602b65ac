"""When a live camera's picture is worth reading: once it has been still for `settle_ms` after a
change (an envelope laid, the next one laid, the spot emptied), and not again until it changes.
Pure: it is fed tiny grey thumbnails (bytes) and the time in milliseconds; the shell then calls
`CameraSession.frame()` once per settled picture, so a letter lying there is read, and committed,
once."""

from __future__ import annotations

from dataclasses import dataclass

THUMB = (32, 24)  # thumbnail size (width, height) the shell makes of each frame
MOVING = 6.0  # mean absolute grey difference between two thumbnails that counts as movement


def difference(a: bytes, b: bytes) -> float:
    if len(a) != len(b) or not a:
        return 255.0
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


@dataclass(frozen=True)
class Still:
    last: bytes = b""  # the previous thumbnail
    since_ms: int = 0  # when the picture last moved
    read: bytes = b""  # the picture last handed over for reading

    def feed(self, thumb: bytes, now_ms: int, settle_ms: int) -> tuple[Still, bool]:
        """(new state, read now?)"""
        moved = difference(thumb, self.last) > MOVING
        since = now_ms if moved or not self.last else self.since_ms
        state = Still(thumb, since, self.read)
        if moved or now_ms - since < settle_ms:
            return state, False
        if self.read and difference(thumb, self.read) <= MOVING:
            return state, False  # the same still picture as last read: nothing new on the spot
        return Still(thumb, since, thumb), True


def thumbnail(img) -> bytes:
    """The shell's thumbnail of a PIL frame (in memory)."""
    return img.convert("L").resize(THUMB).tobytes()
