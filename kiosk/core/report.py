"""The follow-up row's old address: the sheet lives in `kiosk.core.followup`. Kept only for
`kiosk/shelf/ui/screens/summary.py`, which imports `COLUMNS` and `follow_up_row` from here."""

from .followup import COLUMNS, follow_up_row

__all__ = ["COLUMNS", "follow_up_row"]
