"""The log scrubber (kiosk.core.logs): configured secret values, URL userinfo and tokens are removed
from log lines; ordinary words never are, even when a secret URL's path is one of them."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core import logs

from .conftest import ROOT

BILLING = "https://returpost:Hemligt-l0senord@faktura.example.se/api/billing?token=Xk29fQ7pLm03"


def test_a_url_whose_path_is_a_common_word_leaves_the_word_alone():
    line = (f"billing on; billing_file /var/lib/returpost/billing/2026-12.csv; POST to {BILLING} failed: "
            "401 for user returpost (password Hemligt-l0senord, token Xk29fQ7pLm03)")
    out = logs.scrub(line, urls=[BILLING])
    assert out.startswith("billing on; billing_file /var/lib/returpost/billing/2026-12.csv; POST to "
                          "https://faktura.example.se/… failed")
    for secret in ("Hemligt-l0senord", "Xk29fQ7pLm03", "returpost:"):
        assert secret not in out
    assert out.endswith("401 for user returpost (password ***, token ***)")  # a user name is not a secret


def test_tokens_in_webhook_urls_are_removed():
    url = ("workflows://prod-42.westeurope.logic.azure.com:443/0d9a4f1c2b3e4a5f8e7d6c5b4a392817/"
           "Sq8Zt1vY5uW2xR4qP7nM0kL3jH6gF9dS?api-version=2016-06-01")
    out = logs.scrub(f"sending failed: {url}; workflow 0d9a4f1c2b3e4a5f8e7d6c5b4a392817 signature "
                     "Sq8Zt1vY5uW2xR4qP7nM0kL3jH6gF9dS", urls=[url])
    assert "0d9a4f1c" not in out and "Sq8Zt1vY" not in out and out.startswith("sending failed: workflows://prod-42")


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäö_-", min_size=3, max_size=19).filter(
    lambda w: w.strip("-_") == w)
TOKEN = st.text(alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=12, max_size=40).filter(
    lambda s: sum(c.isdigit() for c in s) >= 2 and any(c.isalpha() for c in s))


@settings(max_examples=300, deadline=None)
@given(word=WORD, token=TOKEN, password=TOKEN)
def test_words_stay_tokens_and_passwords_go(word, token, password):
    url = f"https://svc:{password}@hook.example.se/{word}/{token}?{word}=1"
    text = f"{word} started; {word}_file in /srv/{word}; calling {url}; got {token}, used {password}"
    out = logs.scrub(text, urls=[url])
    assert out.startswith(f"{word} started; {word}_file in /srv/{word}; calling https://hook.example.se/…")
    assert token not in out and password not in out
    assert logs.scrub(f"a line about {word} only", urls=[url]) == f"a line about {word} only"


def test_configured_secrets_never_reach_a_log_line(tmp_path):
    """A real process: the config's secrets (MQTT and central passwords, the billing URL, a
    notification URL) are protected at load; a line that quotes them is scrubbed on stderr."""
    config = tmp_path / "central.toml"
    config.write_text(
        '[mqtt]\npassword = "mqtt-pw-Q8w7e6r5"\n'
        '[central]\npassword = "central-pw-Z1x2c3v4"\n'
        f'[billing]\nurl = "{BILLING}"\n'
        '[[notify.targets]]\nurl = "mailtos://tl.bot:Smtp-pw-9911@smtp.example.se?to=tl@example.se"\n',
        encoding="utf-8")
    code = ("import logging, sys\nfrom kiosk.core import config, logs\nlogs.setup()\ncfg = config.load(sys.argv[1])\n"
            "logging.getLogger('kiosk.test').warning('billing on: %s %s %s %s', cfg.mqtt.password, "
            "cfg.central.password, cfg.billing.url, 'Smtp-pw-9911 to tl@example.se')\n")
    done = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert "kiosk.test: billing on: *** *** https://faktura.example.se/… *** to ***" in line, line
