"""Typed config: every table of default_config.toml is a typed section (`config.mqtt.port` is an
int to mypy and editors), the TOML file stays the schema, and a key added on one side only fails
loudly. Config-file errors are one English line naming the key, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from kiosk.core import config as kconfig
from kiosk.core.config import ConfigError, parse
from kiosk.core.limits import SIGNATURE_MAX

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = tomllib.loads(kconfig.default_text())


def test_typed_sections_match_default_config_key_for_key():
    assert kconfig.schema_problems(kconfig.default_text()) == ()
    cfg = parse("")
    for section, table in DEFAULT.items():
        typed = getattr(cfg, section)
        if isinstance(table, dict) and section not in ("slots",):
            assert isinstance(typed, msgspec.Struct), section
            assert set(typed.__struct_fields__) == set(table), section  # every key on both sides
            for key, value in table.items():
                got = getattr(typed, key)
                if isinstance(got, (msgspec.Struct, tuple)):  # a nested table ([web.oidc]), an array
                    assert msgspec.json.decode(msgspec.json.encode(got)) == value, f"{section}.{key}"
                    continue
                assert got == value and type(got) in (type(value), float), f"{section}.{key}"
    assert set(cfg.__struct_fields__) == set(DEFAULT) | set(kconfig.META_FIELDS)
    assert cfg.slots == DEFAULT["slots"]
    assert cfg.operators[0].signature == DEFAULT["operators"][0]["signature"]
    hints = typing.get_type_hints(kconfig.MqttSection)
    assert hints["port"] is int and hints["tls"] is bool and hints["backoff_min"] is float
    with pytest.raises((AttributeError, TypeError)):
        cfg.mqtt.port = 1  # type: ignore[misc]  # frozen


def test_a_key_added_to_the_toml_without_a_typed_field_fails_loudly():
    text = kconfig.default_text().replace("[mqtt]\n", "[mqtt]\nnew_knob = 3            # documented\n", 1)
    problems = kconfig.schema_problems(text)
    assert len(problems) == 1 and "mqtt.new_knob" in problems[0] and "MqttSection" in problems[0]
    assert "new_knob: int" in problems[0]
    new_table = kconfig.default_text() + "\n[gizmo]\nport = 8080\n"
    (problem,) = kconfig.schema_problems(new_table)
    assert "has gizmo but kiosk.core.config.Config has no field 'gizmo'" in problem


def test_a_toml_default_of_another_type_than_its_field_fails_loudly():
    text = kconfig.default_text().replace("port = 1883", 'port = "1883"', 1)
    (problem,) = kconfig.schema_problems(text)
    assert "mqtt.port" in problem and "MqttSection.port" in problem and "integer" in problem
    text = kconfig.default_text().replace("backoff_min = 1.0", "backoff_min = 1", 1)
    (problem,) = kconfig.schema_problems(text)
    assert "mqtt.backoff_min = 1 is an integer" in problem and "write 1.0" in problem


def test_typed_lists_of_tables_name_the_element():
    with pytest.raises(ConfigError) as info:
        parse('[[operators]]\nsignature = "A"\n[[operators]]\nsignature = 3\n')
    assert info.value.key == "operators[1].signature" and "string" in info.value.problem
    with pytest.raises(ConfigError) as info:
        parse('[[operators]]\nsignature = "A"\ncolour = "red"\n')
    assert info.value.key == "operators[0].colour" and "unknown key" in info.value.problem
    assert parse('[[operators]]\nsignature = "A"\n').operators == (kconfig.Operator(signature="A"),)


def _bounded_keys():
    """(section, key, bounds, type) of every scalar key whose Struct field carries ge/gt/le/lt."""
    for section, table in DEFAULT.items():
        if not isinstance(table, dict) or section == "slots":
            continue
        hints = typing.get_type_hints(type(getattr(parse(""), section)), include_extras=True)
        for key in table:
            bounds = {name: getattr(meta, name) for meta in getattr(hints[key], "__metadata__", ())
                      for name in ("ge", "gt", "le", "lt") if getattr(meta, name, None) is not None}
            if bounds:
                yield section, key, bounds, typing.get_args(hints[key])[0]


BOUNDED = list(_bounded_keys())


def test_bounds_are_read_from_the_structs():
    keys = {f"{s}.{k}" for s, k, _, _ in BOUNDED}
    assert {"mqtt.port", "mqtt.keepalive", "ui.tap_guard_ms", "printer.retry_s", "central.batch_size"} <= keys


@pytest.mark.parametrize("section, key, bounds, tp", BOUNDED, ids=[f"{s}.{k}" for s, k, _, _ in BOUNDED])
def test_every_bound_refuses_just_outside_and_takes_the_edge(section, key, bounds, tp):
    step = 1 if tp is int else 0.001
    edges = [(bounds["ge"], bounds["ge"] - step)] if "ge" in bounds else []
    edges += [(bounds["gt"] + step, bounds["gt"])] if "gt" in bounds else []
    edges += [(bounds["le"], bounds["le"] + step)] if "le" in bounds else []
    edges += [(bounds["lt"] - step, bounds["lt"])] if "lt" in bounds else []
    for inside, outside in edges:
        with pytest.raises(ConfigError) as info:
            parse(f"[{section}]\n{key} = {tp(outside)!r}\n")
        assert info.value.key == f"{section}.{key}" and "\n" not in str(info.value)
        assert f"got {tp(outside)!r}" in info.value.problem or "must be" in info.value.problem
        try:
            cfg = parse(f"[{section}]\n{key} = {tp(inside)!r}\n")
        except ConfigError as exc:  # only a rule across keys may refuse the edge (min <= max, a pin twice)
            assert exc.problem.startswith("need ") or "already used" in exc.problem, exc
        else:
            assert getattr(getattr(cfg, section), key) == inside


def test_secrets_and_the_raw_tables_stay_out_of_the_repr():
    cfg = parse('[mqtt]\npassword = "mqtt-hemlis"\n[central]\ndb = "postgresql://u:pg-hemlis@h/db"\n'
                '[web]\nmetrics_token = "token-hemlis-0123456789"\n[billing]\nurl = "https://u:bill-hemlis@h/"\n'
                '[[notify.targets]]\nurl = "json://u:notify-hemlis@h/"\n')
    shown = repr(cfg)
    assert "MqttSection(" in shown and "port=1883" in shown
    assert "hemlis" not in shown and "data=" not in shown
    assert cfg.mqtt.password == "mqtt-hemlis" and cfg.notify.targets[0].url == "json://u:notify-hemlis@h/"


SCALARS = [(section, key) for section, table in DEFAULT.items() if isinstance(table, dict)
           for key, value in table.items() if not isinstance(value, (dict, list)) and section != "slots"]


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or c in '\x7f"\\' else c for c in value) + '"'
    return repr(value)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SCALARS),
       st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False),
                 st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)))
def test_any_scalar_override_is_typed_or_refused_naming_its_section(where, value):
    section, key = where
    try:
        cfg = parse(f"[{section}]\n{key} = {_toml(value)}\n")
    except ConfigError as exc:
        assert exc.key.startswith(section + "."), exc  # the key, or its partner in a cross-key rule
        return
    got = getattr(getattr(cfg, section), key)
    want = DEFAULT[section][key]
    assert got == value and type(got) is type(want)


# -- config-file errors at the CLI -----------------------------------------------

def kiosk(*args, cwd=ROOT):
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True,
                          cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)}, timeout=120)


def refused(cfg_file: Path, *command: str) -> str:
    done = kiosk("--config", str(cfg_file), *command)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("config error: ")
    return line


def test_invalid_utf8_names_the_file_and_the_line(tmp_path):
    f = tmp_path / "kiosk.toml"
    f.write_bytes(b'[kiosk]\nsite = "sthlm"\n[[operators]]\nsignature = "\xc5SA"\n')  # Latin-1 Å
    line = refused(f, "report")
    assert str(f) in line and "UTF-8" in line and "0xc5" in line and "line 4" in line


@pytest.mark.parametrize("content", [b"", b"\n  \n", b"# only a comment\n"])
def test_an_empty_config_file_is_refused_saying_so(tmp_path, content):
    f = tmp_path / "kiosk.toml"
    f.write_bytes(content)
    line = refused(f, "report")
    assert str(f) in line and "empty" in line and "embedded defaults" in line


@pytest.mark.parametrize("value", [0, -5])
def test_keepalive_must_be_positive(tmp_path, value):
    f = tmp_path / "kiosk.toml"
    f.write_text(f"[mqtt]\nkeepalive = {value}\n")
    line = refused(f, "report")
    assert line == f"config error: mqtt.keepalive: must be more than 0 seconds, got {value}"


@pytest.mark.parametrize("key", ["ca_file", "cert_file", "key_file"])
def test_a_tls_file_that_does_not_exist_names_key_and_path(tmp_path, key):
    ca = tmp_path / "ca.crt"
    ca.write_text("not checked here\n")
    files = {"ca_file": str(ca), key: f"certs/{key}.pem"}
    f = tmp_path / "kiosk.toml"
    f.write_text("[mqtt]\ntls = true\n" + "".join(f'{k} = "{v}"\n' for k, v in files.items()))
    line = refused(f, "sync", "--once", "--timeout", "1")
    assert line == f"config error: mqtt.{key}: no such file: {tmp_path / 'certs' / (key + '.pem')}"
    # the report does not connect: the same file is fine for it (doctor reports it in Swedish)
    assert kconfig.load(f).mqtt.tls


@pytest.mark.parametrize("signature, words", [
    ("A" * (SIGNATURE_MAX + 1), f"longer than {SIGNATURE_MAX} characters"),
    ("AN\u202eNA", "U+202E"),
    ("AN\\tNA", "U+0009"),
    ("AN\\u0000NA", "U+0000"),
])
def test_an_operator_signature_central_would_refuse_stops_the_kiosk(tmp_path, signature, words):
    f = tmp_path / "kiosk.toml"
    f.write_text(f'[[operators]]\nsignature = "OK"\n[[operators]]\nsignature = "{signature}"\n', encoding="utf-8")
    line = refused(f, "report")
    assert line.startswith("config error: operators[1].signature: ") and words in line
    assert "central refuses" in line


def test_a_codepage_with_a_nul_is_refused_naming_the_key():  # found by the property test above
    with pytest.raises(ConfigError) as info:
        parse('[printer]\ncodepage = "\\u0000"\n')
    assert info.value.key == "printer.codepage"


def test_a_signature_of_exactly_the_limit_is_accepted():
    cfg = parse(f'[[operators]]\nsignature = "{"Ö" * SIGNATURE_MAX}"\n')
    assert cfg.operators[0].signature == "Ö" * SIGNATURE_MAX


def test_a_default_that_does_not_fit_the_structs_stops_every_load(monkeypatch):
    text = kconfig.default_text() + "\n[gizmo]\nport = 8080\n"
    monkeypatch.setattr(kconfig, "default_text", lambda: text)
    kconfig._default.cache_clear()
    try:
        with pytest.raises(kconfig.ConfigSchemaError, match="has gizmo but kiosk.core.config.Config has no field"):
            parse("")
    finally:
        monkeypatch.undo()
        kconfig._default.cache_clear()
    assert parse("").kiosk.site == DEFAULT["kiosk"]["site"]


def test_the_merged_tables_are_the_callers_own():
    cfg = parse("")
    cfg.data["printer"]["backend"] = "usb"
    cfg.data["operators"].clear()
    again = parse("")
    assert again.printer.backend == "file" and again.data["printer"]["backend"] == "file"
    assert len(again.operators) == len(DEFAULT["operators"]) == len(again.data["operators"])


@pytest.mark.parametrize("section, key, good", [
    ("kiosk", "id", "k1"), ("kiosk", "deadline", "14:00"), ("mqtt", "client_id", "k1"),
    ("central", "shared_group", "g1"), ("followup", "time", "16:00"), ("billing", "separator", ","),
    ("billing", "url", "https://billing.example/returns"),
])
def test_a_pattern_takes_the_whole_value_not_a_line_of_it(section, key, good):
    assert getattr(getattr(parse(f'[{section}]\n{key} = "{good}"\n'), section), key) == good
    with pytest.raises(ConfigError) as info:  # `$` would match before a trailing newline
        parse(f'[{section}]\n{key} = "{good}\\n"\n')
    assert info.value.key == f"{section}.{key}"
