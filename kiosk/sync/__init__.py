"""Sync to central over MQTT (DESIGN.md §5).

- `publisher.Publisher`: the kiosk's outbox publisher (journal -> broker), its own thread.
- `central.Central`: the collector (broker -> central SQLite), `central_report` the follow-up sheet.
- `topics`: topic names and MQTT client setup shared by both sides.
- `localbroker`: start a throwaway mosquitto on a free port (tests and benchmarks).
"""
