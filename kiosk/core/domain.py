"""The routine's vocabulary (DESIGN.md §2): ids used in code, config, events and on screen.

Pure constants only. Swedish names are what the person at the shelf reads.
"""

from __future__ import annotations

# Step 1: the eight piles, in the order they stand on the shelf.
PILES: tuple[str, ...] = (
    "dodsbo",
    "sekretess",
    "faktura",
    "ovriga_streckkod",
    "leta_kund",
    "ovriga_brev",
    "inkomna_brev",
    "tillfalliga",
)

PILE_NAMES: dict[str, str] = {
    "dodsbo": "Dödsbofakturor",
    "sekretess": "Sekretessfakturor",
    "faktura": "Faktura/påminnelse",
    "ovriga_streckkod": "Övriga brev med streckkod",
    "leta_kund": "Leta Kund-brev",
    "ovriga_brev": "Övriga brev utan streckkod",
    "inkomna_brev": "Inkomna brev",
    "tillfalliga": "Tillfälliga utskick",
}

# Step 2: the fixed scan order. These are the piles that carry a barcode.
SCAN_ORDER: tuple[str, ...] = ("dodsbo", "sekretess", "faktura", "ovriga_streckkod")

# Destination slots after processing.
DESTINATIONS: tuple[str, ...] = ("oversta_facket", "sekretesslada", "skicka_om")

DESTINATION_NAMES: dict[str, str] = {
    "oversta_facket": "Översta facket",
    "sekretesslada": "Sekretesslådan",
    "skicka_om": "Skicka om",
}

# Every slot on the shelf that has an LED: the piles, then the destinations.
SLOTS: tuple[str, ...] = PILES + DESTINATIONS
SLOT_NAMES: dict[str, str] = {**PILE_NAMES, **DESTINATION_NAMES}

# Scanned piles that go to the confidential disposal bin afterwards (step 2).
TO_SEKRETESSLADA_AFTER_SCAN: tuple[str, ...] = ("faktura", "ovriga_streckkod")

# Step 4: the billing address on the sekretess cover slip.
BILLING_ADDRESS: tuple[str, ...] = (
    "Ellevio AB (publ)",
    "Fakturering",
    "Box 24207",
    "104 51 Stockholm",
)

# Step 5: Leta Kund letter types and their names in WMS.
LETA_KUND_TYPES: tuple[str, ...] = ("A", "B", "C", "D", "H")
LETA_KUND_WMS: dict[str, str] = {
    "A": "Brev 4",
    "B": "Brev 1",
    "C": "Brev 2",
    "D": "Brev 3",
    "H": "Handräckningsbrev",
}
LETA_KUND_HINT: dict[str, str] = {
    "A": "Undvik att elen stängs av – elnätsavtal för din lägenhet eller lokal (lägenhetsnummer)",
    "B": "Undvik att elen stängs av – du saknar ett elnätsavtal på …",
    "C": "Vem flyttade in i din förra bostad?",
    "D": "Undvik att elen stängs av.",
    "H": "Vi behöver er hjälp för att koppla ifrån elen.",
}

# Steps 6 and 7: letters with an activity date.
DATE_CHECK_KINDS: dict[str, str] = {
    "planerat_stromavbrott": "Planerat strömavbrott",
    "ovriga_brev": "Övrigt brev med datum",
}
DISCARD_WITHIN_DAYS = 3
STROMAVBROTT_ATGARD_TITLE = "Åtgärder till följd av återkommande strömavbrott"

DECISION_NAMES: dict[str, str] = {"kasta": "Kasta", "skicka_om": "Skicka om"}

# Each kind of warning in the day summary (routine.warnings) and its one Swedish name: the kiosk's
# summary screen, the printed summary, the follow-up row and central's sheet and web app use it.
# The follow-up row counts each kind in letters (scans), print jobs or alerts.
WARNING_NAMES: dict[str, str] = {
    "missing_scans": "Saknade skanningar",  # a pile finished with fewer scans than letters sorted
    "extra_scans": "Extra skanningar",  # more scans than letters sorted
    "unscanned": "Ej skannade brev",  # letters of a pile never finished when the day closed
    "labels_missing": "Etiketter saknas",  # dödsbo invoices scanned without a printed label
    "cover_slip_missing": "Försättsblad saknas",  # sekretess invoices without a cover slip
    "print_queued": "Utskrifter i kö",  # labels and cover slips the printer has not taken yet
    "print_failed": "Utskrifter som misslyckades",  # labels and cover slips the printer refused
    "alert_unconfirmed": "Larm utan bekräftelse",  # alerts central has not reported delivered to a TL
}


def warning_counts(warnings: list[dict]) -> dict[str, int]:
    """Per warning kind, the letters, jobs or alerts a day's warnings (`routine.warnings`) are
    about: the summable number the follow-up sheet and the printed summary show beside its name."""
    each = {"missing_scans": lambda w: w["sorted"] - w["scanned"], "extra_scans": lambda w: w["scanned"] - w["sorted"],
            "unscanned": lambda w: w["sorted"] - w["scanned"], "labels_missing": lambda w: w["scanned"] - w["labels"],
            "cover_slip_missing": lambda w: w["scanned"] - w["covered"], "print_queued": lambda w: w["jobs"],
            "print_failed": lambda w: w["jobs"], "alert_unconfirmed": lambda w: 1}
    return {kind: sum(n(w) for w in warnings if w.get("kind") == kind) for kind, n in each.items()}

# Step 8: incoming letters.
INCOMING_KINDS: dict[str, str] = {
    "fullmakt": "Fullmakt (ensam)",
    "fullmakt_med_brev": "Fullmakt med brev",
    "autogiro": "Autogiroblankett",
    "bestridan": "Bestridan av faktura",
    "ovrigt": "Övrigt inkommet brev",
}
SEGMENTS: dict[str, str] = {"privat": "KS Privat", "foretag": "KS Företag"}

# Step 10: envelope remarks that become a customer-log note.
REMARK_CODES: dict[str, str] = {
    "brevlada_full": "Brevlådan full",
    "poste_restante": "Post ej avhämtad hos Poste Restante",
    "okand_adress": "Okänd adress / avflyttad",
    "ofullstandig_adress": "Ofullständig adress",
    "vagrad": "Mottagaren har vägrat ta emot",
}
POSTE_RESTANTE_CHECKLIST: tuple[str, ...] = (
    "Kontrollera i Upplysning.se om Poste Restante-adressen är borttagen.",
    "Om den är borttagen: radera den särskilda postadressen i CAB.",
)

# Checklist items the operator ticks (the `checklist` command, the checklist_ticked event).
CHECKLIST_ITEMS: dict[str, str] = {
    "envelope_sent": "Kuvertet till Faktureringen skickat",
    "wms_ticked": "Bockat i WMS (Leta Kund)",
    "cab_case_created": "Ärendet klart i CAB (inkomna brev)",
    "poste_restante_checked": "Kontrollerat i Upplysning.se (Poste Restante)",
    "poste_restante_removed": "Särskild postadress raderad i CAB (Poste Restante)",
}

# TL alert kinds.
ALERT_KINDS: tuple[str, ...] = ("bestridan", "tillfalliga", "deadline_missed")

# Rejection reasons for a scan.
SCAN_REJECT_REASONS: tuple[str, ...] = ("invalid", "duplicate", "not_scan_phase", "wrong_pile")
