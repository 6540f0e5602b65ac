"""Development tooling: benchmarks, fakes, the throwaway local broker, the X driver, the Xvfb
helper and the screenshot maker. Lives beside `kiosk/` in a source checkout and is never part of
the installed package (the wheel test proves it)."""
