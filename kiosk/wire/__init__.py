"""The wire both roles use (DESIGN.md §5, §9): `topics` (topic names), `mqtt` (the one MQTT session
module: client, TLS, connect, backoff), `validate` (the payload checks central applies), `inbox`
(central's retained inbox document), `journal` (the journal file: the kiosk's outbox, and what
`kiosk central import` reads). The kiosk's publisher is `kiosk/shelf/publisher.py`; central's side
is `kiosk/central/`. Imports `core` only."""
