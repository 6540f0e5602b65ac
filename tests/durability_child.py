"""Child process for the kill -9 test: runs commands [start, end) of a seeded stream through the
real controller and journal, printing "CONFIRMED <index>" after each command returned."""

import sys

from kiosk.core.clock import FixedClock
from kiosk.core.config import load
from kiosk.shelf.controller import Controller
from kiosk.wire.journal import Journal

from tests.command_stream import stream


def main() -> None:
    db, seed, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cfg = load(None)
    commands = stream(seed, end)
    clock = FixedClock(commands[start][0])
    controller = Controller(cfg, Journal(db, cfg.kiosk.site, cfg.kiosk.id), clock)
    print("READY", flush=True)
    for index in range(start, end):
        now, command = commands[index]
        clock.set(now)
        result = controller.handle(dict(command), now)
        sys.stdout.write(f"CONFIRMED {index} {result.code}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
