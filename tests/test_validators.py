"""Personnummer, samordningsnummer and barcode rules: parsers tested with hypothesis."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.core.barcode import BarcodeRules, check, luhn_ok, mod10_31_ok
from kiosk.core.personnummer import CenturyNeeded, PersonnummerError, parse

TODAY = dt.date(2026, 11, 26)


def luhn_digit(nine: str) -> str:
    for d in "0123456789":
        if luhn_ok(nine + d):
            return d
    raise AssertionError


@st.composite
def numbers(draw, samordning=False):
    birth = draw(st.dates(min_value=dt.date(1910, 1, 1), max_value=TODAY))
    serial3 = f"{draw(st.integers(0, 999)):03d}"
    day = birth.day + (60 if samordning else 0)
    yymmdd = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}"
    check = luhn_digit(yymmdd + serial3)
    return birth, yymmdd, serial3 + check


@given(numbers())
def test_every_written_form_of_a_valid_number_formats_the_same(n):
    birth, yymmdd, last4 = n
    full = f"{birth.year:04d}{yymmdd[2:]}"
    want = f"{full}-{last4}"
    age_100 = birth.year <= TODAY.year - 100 or (birth.year == TODAY.year - 100 and birth > TODAY.replace(year=birth.year))
    short_sep = "+" if birth <= TODAY.replace(year=TODAY.year - 100) else "-"
    forms = [full + last4, f"{full}-{last4}", f"{yymmdd}{short_sep}{last4}", f" {full}-{last4} "]
    if short_sep == "-" and birth.year > TODAY.year - 100:
        forms.append(yymmdd + last4)
    century = f"{birth.year // 100}"
    both_real = all(_real(int(c) * 100 + birth.year % 100, birth.month, birth.day) for c in ("19", "20"))
    for form in forms:
        # ten digits without "+" need the century chosen when both readings are real dates not in
        # the future; with one real reading it is taken; all others as typed
        ambiguous = len(form.strip()) in (10, 11) and "+" not in form and both_real
        assert parse(form, TODAY, century if ambiguous else None).formatted() == want, form
        if ambiguous:
            with pytest.raises(CenturyNeeded):
                parse(form, TODAY)
    del age_100


@given(numbers(samordning=True))
def test_samordningsnummer_has_day_plus_60(n):
    birth, yymmdd, last4 = n
    p = parse(f"{birth.year:04d}{yymmdd[2:]}-{last4}", TODAY)
    assert p.samordning and p.birth == birth
    assert p.formatted()[6:8] == f"{birth.day + 60:02d}"


@given(numbers(), st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_error_is_caught(n, position, delta):
    birth, yymmdd, last4 = n
    digits = list(f"{birth.year:04d}{yymmdd[2:]}{last4}")
    position += 2  # the Luhn check covers the last ten digits
    digits[position] = str((int(digits[position]) + delta) % 10)
    with pytest.raises(PersonnummerError):
        parse("".join(digits), TODAY)


@given(st.one_of(st.text(max_size=20), st.from_regex(r"\A[0-9]{6,8}[-+]?[0-9]{4}\Z")))
def test_garbage_never_crashes_and_errors_never_echo_the_input(text):
    try:
        parse(text, TODAY)
    except PersonnummerError as exc:
        digits = "".join(c for c in text if c.isdigit())
        if len(digits) >= 4:
            assert digits not in str(exc) and digits[-4:] not in str(exc)


@pytest.mark.parametrize("text, problem", [
    ("19121212+1212", "Plustecken"),
    ("191212121212X", "10 eller 12"),
    ("19121332-1212", "datum"),
    ("20301212-1212", "framtiden"),
    ("12345", "10 eller 12"),
])
def test_rejections_say_why_in_swedish(text, problem):
    with pytest.raises(PersonnummerError) as info:
        parse(text, TODAY)
    assert problem in str(info.value)


def test_personnummer_repr_hides_the_number():
    p = parse("19121212-1212", TODAY)
    assert "1212" not in repr(p) and "1212" not in str(p)


# -- barcodes -----------------------------------------------------------------------------------

@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=6, max_size=64))
def test_printable_codes_of_allowed_length_pass_the_default_rules(code):
    assert check(code, BarcodeRules(), "faktura") is None


@given(st.text(min_size=0, max_size=80))
def test_any_string_is_either_accepted_or_rejected_with_a_reason(code):
    result = check(code, BarcodeRules(check_digit="luhn"), "dodsbo")
    if result is not None:
        assert result.reason in ("invalid", "wrong_pile") and result.message
    else:
        assert 6 <= len(code) <= 64 and luhn_ok(code)


@given(st.text(alphabet="0123456789", min_size=7, max_size=17))
def test_gs1_check_digit_detects_single_digit_errors(body):
    check_digit = next(d for d in "0123456789" if mod10_31_ok(body + d))
    code = body + check_digit
    assert mod10_31_ok(code)
    for i in range(len(code)):
        wrong = code[:i] + str((int(code[i]) + 1) % 10) + code[i + 1:]
        assert not mod10_31_ok(wrong)


def test_ten_digits_with_a_dash_ask_for_the_century_with_both_readings_and_never_the_number():
    with pytest.raises(CenturyNeeded) as info:
        parse("250101-1239", TODAY)
    assert info.value.readings == [{"century": "19", "date": "1925-01-01"}, {"century": "20", "date": "2025-01-01"}]
    assert "1239" not in str(info.value) and "250101" not in str(info.value)
    assert parse("250101-1239", TODAY, "19").formatted() == "19250101-1239"
    assert parse("250101-1239", TODAY, "20").formatted() == "20250101-1239"
    assert parse("250101+1239", TODAY).formatted() == "19250101-1239"  # + : 100 years or older
    assert parse("19250101-1239", TODAY).formatted() == "19250101-1239"  # twelve digits as typed
    with pytest.raises(PersonnummerError, match="stämmer inte"):
        parse("19250101-1239", TODAY, "20")
    with pytest.raises(PersonnummerError, match="Kontrollsiffran"):
        parse("250101-1238", TODAY)  # a typo is caught before the century question


def test_one_real_reading_is_taken_without_asking():
    """2030-12-12 (and 2045-12-24) lie in the future: the only real reading is taken; 29
    February 1900 is no date: 2000 is taken."""
    assert parse(_valid("301212"), TODAY).formatted() == "19" + _valid("301212")
    assert parse("451224-1003", TODAY).formatted() == "19451224-1003"
    assert parse("3805121005", TODAY).formatted() == "19380512-1005"
    assert parse(_valid("000229"), TODAY).formatted() == "20" + _valid("000229")


def _real(year: int, month: int, day: int) -> bool:
    try:
        return dt.date(year, month, day) <= TODAY
    except ValueError:
        return False


def _valid(yymmdd: str) -> str:
    return f"{yymmdd}-123{luhn_digit(yymmdd + '123')}"
