"""provisioning/render_config.py: the installer's TOML writer and config layering."""

from __future__ import annotations

import importlib.util
import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core import config as kconfig

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("render_config", ROOT / "provisioning/render_config.py")
render_config = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render_config)

keys = st.text(min_size=1, max_size=12)
scalars = st.one_of(
    st.booleans(), st.integers(min_value=-2**63, max_value=2**63 - 1),
    st.floats(allow_nan=False), st.text(max_size=30),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))
tables = st.dictionaries(keys, values, max_size=5)
documents = st.dictionaries(
    keys,
    st.one_of(values, tables, st.dictionaries(keys, tables, max_size=3),
              st.lists(st.dictionaries(keys, scalars, min_size=1, max_size=3), min_size=1, max_size=3)),
    max_size=6,
)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(documents)
def test_dumps_round_trips_through_tomllib(doc):
    text = render_config.dumps(doc)
    assert same(tomllib.loads(text), doc), text
    assert render_config.dumps(tomllib.loads(text)) == text   # stable: a second render is identical


USB = ("--printer", "usb:0416:5011")  # a kiosk needs a real printer


def args(*argv):
    return render_config.parser().parse_args(list(argv))


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s))
def test_any_password_survives(password):
    text = render_config.render(args("kiosk", "--site", "s", "--kiosk-id", "k", "--broker-host", "h", *USB),
                                env={"RETURPOST_MQTT_PASSWORD": password})
    assert kconfig.parse(text).mqtt.password == password


def test_existing_config_is_kept_and_options_override(tmp_path):
    existing = tmp_path / "config.toml"
    existing.write_text('[kiosk]\nsite = "a"\nid = "b"\n[mqtt]\nhost = "old"\nkeepalive = 45\n'
                        '[[operators]]\nsignature = "CC"\nname = "Cecilia"\n')
    text = render_config.render(args("kiosk", "--existing", str(existing), "--broker-host", "new", *USB), env={})
    cfg = kconfig.parse(text)
    assert (cfg.kiosk.site, cfg.kiosk.id, cfg.mqtt.host, cfg.mqtt.keepalive) == ("a", "b", "new", 45)
    assert [o.signature for o in cfg.operators] == ["CC"]
    # a given base wins over the existing file
    base = tmp_path / "base.toml"
    base.write_text('[kiosk]\nsite = "x"\nid = "y"\n[mqtt]\nhost = "h"\n')
    cfg = kconfig.parse(render_config.render(args("kiosk", "--existing", str(existing), "--base", str(base), *USB), env={}))
    assert (cfg.kiosk.site, cfg.kiosk.id) == ("x", "y") and cfg.operators[0].signature == "ANNA"


def test_relative_data_dir_is_refused(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text('[kiosk]\nsite = "x"\nid = "y"\ndata_dir = "var"\n[mqtt]\nhost = "h"\n')
    with pytest.raises(render_config.RenderError, match="kiosk.data_dir"):
        render_config.render(args("kiosk", "--base", str(base)), env={})


@pytest.mark.parametrize("spec,expect", [
    ("usb:0416:5011", {"backend": "usb", "usb_vendor": 0x416, "usb_product": 0x5011}),
    ("serial:/dev/ttyAMA0@9600", {"backend": "serial", "serial_port": "/dev/ttyAMA0", "baudrate": 9600}),
    ("serial-usb:1a86:7523", {"backend": "serial", "serial_port": "/dev/returpost-printer"}),
    ("network:10.0.0.5:9100", {"backend": "network", "host": "10.0.0.5", "port": 9100}),
    ("network:printer.lan", {"backend": "network", "host": "printer.lan", "port": 9100}),
    ("file:/dev/usb/lp0", {"backend": "file", "path": "/dev/usb/lp0"}),
])
def test_printer_specs(spec, expect):
    cfg = kconfig.parse(render_config.render(
        args("kiosk", "--site", "s", "--kiosk-id", "k", "--broker-host", "h", "--printer", spec), env={}))
    assert {k: getattr(cfg.printer, k) for k in expect} == expect


@pytest.mark.parametrize("spec", ["usb:1:2", "network:", "serial:/dev/x@fast", "laser", "file:x", "file",
                                  "file:/var/lib/returpost-kiosk/printer.bin", "dummy"])
def test_bad_printer_specs(spec):
    with pytest.raises(render_config.RenderError, match="--printer"):
        render_config.render(args("kiosk", "--site", "s", "--kiosk-id", "k", "--broker-host", "h",
                                  "--printer", spec), env={})


def test_a_kiosk_without_a_real_printer_is_refused(tmp_path):
    """No default printer file (it would hold every dödsbo label's personnummer)."""
    base = ["kiosk", "--site", "s", "--kiosk-id", "k", "--broker-host", "h"]
    with pytest.raises(render_config.RenderError, match="printer: required for a kiosk: give --printer"):
        render_config.render(args(*base), env={})
    on_disk = tmp_path / "base.toml"
    on_disk.write_text('[printer]\nbackend = "file"\npath = "/var/lib/returpost-kiosk/printer.bin"\n')
    with pytest.raises(render_config.RenderError, match="personnummer"):
        render_config.render(args(*base, "--base", str(on_disk)), env={})
    # a base config with a real printer needs no --printer (a re-run, a bundle with one)
    real = tmp_path / "real.toml"
    real.write_text('[printer]\nbackend = "usb"\n')
    assert kconfig.parse(render_config.render(args(*base, "--base", str(real)), env={})).printer.backend == "usb"
