"""Returpost kiosk: guides the daily handling of returned mail at the post shelf."""

__version__ = "0.1.0"
