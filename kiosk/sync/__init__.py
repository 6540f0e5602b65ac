"""The kiosk's side of sync (DESIGN.md §5): `publisher.Publisher` (journal -> MQTT, confirmed end
to end by central's ack), `mqtt` (the one MQTT session module: client, TLS, connect, backoff),
`topics` (topic names), `validate` (the payload checks central applies), `cli` (`kiosk sync`,
`kiosk status`). Central's side is `kiosk/central/`."""
