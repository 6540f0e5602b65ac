"""The shelf runtime, installed on a kiosk (the `kiosk` role): controller, runtime, hardware (`hw`),
touch UI (`ui`), the kiosk's publisher and `kiosk sync` (`publisher`, `sync_cli`), the kiosk's
doctor, the simulator and the example day. Imports `core` and `wire`, never `central`."""
