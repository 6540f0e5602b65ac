"""The screens, one module per routine step (docs/routine-returpost.sv.txt), in the routine's
order. Every tap that changes the day goes through `app.do(command)` (= controller.handle);
screens only read state to draw themselves. The base `Page` and the building blocks are in
`kiosk/shelf/ui/widgets.py`."""

from __future__ import annotations

from .date_check import DateCheckPage
from .dodsbo import DodsboPage
from .home import HomePage
from .incoming import IncomingPage
from .leta_kund import LetaKundPage
from .other import OtherPage
from .scan import ScanPage
from .sekretess import SekretessPage
from .sign_in import SignInPage
from .sort import SortPage
from .summary import SummaryPage

# Screen name (as the app and its tests know it) -> the page class of that step.
PAGES = {
    "signin": SignInPage, "home": HomePage, "sort": SortPage, "scan": ScanPage, "dodsbo": DodsboPage,
    "sekretess": SekretessPage, "letakund": LetaKundPage, "datecheck": DateCheckPage,
    "incoming": IncomingPage, "other": OtherPage, "summary": SummaryPage,
}
