"""The core: the routine's pure rules and what both roles share (DESIGN.md §9). Routine, domain,
schema, personnummer, barcode, clock, limits, printouts, effects, the follow-up row (`report`),
what the kiosk may say (`truth`), and the config and log format both roles load. Imports nothing of
`wire`, `shelf` or `central` (tests/test_import_cycles.py)."""
