"""The web app's settings (`[web]` of the config, `kiosk.core.config.WebSection`) as `create_app` takes them."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from .oidc import OidcSettings


@dataclass(frozen=True)
class Settings:
    session_idle: dt.timedelta = dt.timedelta(minutes=240)  # no use this long ends a session
    session_absolute: dt.timedelta = dt.timedelta(hours=10)  # a session ends this long after sign-in
    # addresses (or networks, a.b.c.d/n) of the reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; from any other peer they are ignored
    trusted_proxies: tuple[str, ...] = ()
    metrics_token: str = field(default="", repr=False)  # /metrics wants `Authorization: Bearer <this>`; "" = off
    heartbeat_fresh: dt.timedelta = dt.timedelta(seconds=120)  # /readyz: the collector's and worker's last beat
    oidc: OidcSettings | None = None  # sign-in with the organisation's account, besides local passwords


def metrics_token(cfg) -> str:
    """[web] metrics_token, or the first line of [web] metrics_token_file (read here: a missing
    file is an OSError for the caller to report)."""
    w = cfg.web
    if w.metrics_token_file:
        return Path(cfg.data_path(w.metrics_token_file)).read_text(encoding="utf-8").strip()
    return w.metrics_token


def client_secret(cfg) -> str:
    """[web.oidc]'s client secret from its file or environment variable (an OSError or KeyError
    for the caller to report, naming where it looked)."""
    o = cfg.web.oidc
    if o.client_secret_file:
        return Path(cfg.data_path(o.client_secret_file)).read_text(encoding="utf-8").strip()
    return os.environ[o.client_secret_env].strip()


def oidc_settings(cfg) -> OidcSettings | None:
    o = cfg.web.oidc
    if not o.enabled:
        return None
    return OidcSettings(name=o.name, issuer=o.issuer, client_id=o.client_id, client_secret=client_secret(cfg),
                        roles_claim=o.roles_claim, tl_values=tuple(o.tl_values), viewer_values=tuple(o.viewer_values),
                        username_claim=o.username_claim)


def from_config(cfg) -> Settings:
    """Settings from a loaded `kiosk.core.config.Config`."""
    w = cfg.web
    return Settings(session_idle=dt.timedelta(minutes=w.session_idle_minutes),
                    session_absolute=dt.timedelta(hours=w.session_hours),
                    trusted_proxies=tuple(w.trusted_proxies), metrics_token=metrics_token(cfg),
                    heartbeat_fresh=dt.timedelta(seconds=w.ready_heartbeat_s), oidc=oidc_settings(cfg))
