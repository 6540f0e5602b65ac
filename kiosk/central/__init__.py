"""Central: what every kiosk's events become for the people and systems downstream.

One room per capability (DESIGN.md §4-5):
- the store and the collector that feeds it (MQTT in, validation, dedupe, dead letters),
- the end-to-end ack per kiosk journal,
- `web/`: the team lead's web app,
- `delivery/`: the outbox that delivers onwards (notifications, billing, the follow-up file).
"""

# Every room of central in a new database, whichever module creates it (rooms.ensure_all, hooked
# into the store before any central module runs).
from . import rooms  # noqa: E402,F401
