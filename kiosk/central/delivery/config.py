"""The delivery settings, read from the config in one place (`read`). Central's entry points load
their config with `load` (or `parse`), which checks these settings too, so a bad target stops central
at start with the key named; a kiosk's config load never imports this room."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ...core.config import Config, ConfigError
from ...core.config import load as _load_config
from ...core.config import parse as _parse_config
from ..clock_alerts import KINDS as CLOCK_KINDS
from ..clock_alerts import Calendar, Rules

NOTIFY_KINDS = ("bestridan", "tillfalliga") + CLOCK_KINDS


class _Err(ValueError):
    pass


def _config_error(key: str, problem: str) -> Exception:
    return ConfigError(key, problem)


@dataclass(frozen=True)
class Target:
    url: str = field(repr=False)  # may hold a secret: never in a repr or a log
    kinds: tuple[str, ...]
    sites: tuple[str, ...] = ()
    name: str = ""  # the stable name in the config; "" for a target configured before names

    @property
    def url_id(self) -> str:
        """The id a target without a name has (derived from its URL, not revealing it)."""
        return "notify:" + hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:12]

    @property
    def id(self) -> str:
        """A stable id for the outbox: by its name, so a corrected URL keeps its deliveries."""
        return f"notify:{self.name}" if self.name else self.url_id

    def wants(self, kind: str, site: str) -> bool:
        return kind in self.kinds and (not self.sites or site in self.sites)


@dataclass(frozen=True)
class DeliveryConfig:
    targets: tuple[Target, ...] = ()
    base_url: str = ""
    billing_dir: Path | None = None
    billing_url: str = field(default="", repr=False)
    separator: str = ";"
    post_delay_s: float = 60.0
    followup_dir: Path | None = None
    followup_time: dt.time = dt.time(16, 0)
    clock_enabled: bool = True
    rules: Rules = field(default_factory=Rules)
    interval_s: float = 5.0
    timeout_s: float = 10.0
    backoff_min_s: float = 10.0
    backoff_max_s: float = 600.0
    deadline: dt.time = dt.time(14, 0)
    stuck_after_s: float = 3600.0

    @property
    def send_limit_s(self) -> float:
        """The bound on one send, whatever the target or library does: past it the lane gives
        the send up as failed (a target that accepts a connection and never answers)."""
        return self.timeout_s + 5.0

    def lanes(self) -> set[str]:
        """The lanes that exist in this config: each notification target by id, and billing's
        file and POST and the follow-up workbook when configured."""
        out = {t.id for t in self.targets}
        if self.billing_dir is not None:
            out.add("billing_file")
        if self.billing_url:
            out.add("billing_post")
        if self.followup_dir is not None:
            out.add("followup")
        return out

    def target(self, target_id: str) -> Target | None:
        return next((t for t in self.targets if t.id == target_id), None)


def _time(value: str, key: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except (TypeError, ValueError):
        raise _config_error(key, "must be HH:MM") from None


def _days(values: list, key: str) -> frozenset[dt.date]:
    out = set()
    for i, v in enumerate(values):
        try:
            out.add(dt.date.fromisoformat(v))
        except (TypeError, ValueError):
            raise _config_error(f"{key}[{i}]", "must be a date YYYY-MM-DD") from None
    return frozenset(out)


def _targets(targets) -> tuple[Target, ...]:
    """The typed [[notify.targets]] (kiosk.core.config.NotifyTarget: keys, types, URL and name form)
    as delivery targets; here only what needs central (the kinds) or crosses targets (names)."""
    out: list[Target] = []
    for i, t in enumerate(targets):
        where = f"notify.targets[{i}]"
        for kind in t.kinds:
            if kind not in NOTIFY_KINDS:
                raise _config_error(f"{where}.kinds", f"{kind!r} is not one of {', '.join(NOTIFY_KINDS)}")
        if t.name and any(o.name == t.name for o in out):
            raise _config_error(f"{where}.name", f"{t.name!r} names two targets")
        out.append(Target(t.url, tuple(t.kinds), tuple(t.sites), t.name))
    return tuple(out)


def read(cfg) -> DeliveryConfig:
    """The delivery settings of a loaded `kiosk.core.config.Config` (raises ConfigError)."""
    d = cfg.data
    dl, b, f, c = d["delivery"], d["billing"], d["followup"], d["clock_alerts"]
    web = d.get("web", {})
    start, _, end = c["working_hours"].partition("-")
    rules = Rules(
        calendar=Calendar(country=c["country"], subdiv=c["subdiv"] or None,
                          extra_holidays=_days(c["extra_holidays"], "clock_alerts.extra_holidays"),
                          extra_working_days=_days(c["extra_working_days"], "clock_alerts.extra_working_days"),
                          eves_off=c["eves_off"]),
        deadline=_time(d["kiosk"]["deadline"], "kiosk.deadline"),
        no_activity_at=_time(c["no_activity"], "clock_alerts.no_activity"),
        offline_minutes=c["offline_minutes"], silent_minutes=c["silent_minutes"],
        work_start=_time(start, "clock_alerts.working_hours"), work_end=_time(end, "clock_alerts.working_hours"),
    )
    if rules.work_start >= rules.work_end:
        raise _config_error("clock_alerts.working_hours", "must be HH:MM-HH:MM with the start before the end")
    try:
        import holidays
    except ImportError:  # the installer checks a config with the system python, before the venv
        holidays = None
    try:
        if holidays is not None:
            holidays.country_holidays(c["country"], subdiv=c["subdiv"] or None)
    except Exception:
        raise _config_error("clock_alerts.country", "unknown country or subdivision for the holidays package") from None
    # each key's type and bounds (billing.separator, billing.url, the delivery times, the
    # clock_alerts minutes) are kiosk.core.config's Structs'; here only what crosses keys or needs central
    sep = b["separator"]
    if dl["backoff_min_s"] > dl["backoff_max_s"]:
        raise _config_error("delivery.backoff_min_s", "need 0 < backoff_min_s <= backoff_max_s")
    return DeliveryConfig(
        targets=_targets(cfg.notify.targets),
        base_url=str(web.get("base_url", "")).rstrip("/"),
        billing_dir=cfg.data_path(b["dir"]) if b["dir"] else None,
        billing_url=b["url"], separator=sep, post_delay_s=float(b["post_delay_s"]),
        followup_dir=cfg.data_path(f["dir"]) if f["dir"] else None,
        followup_time=_time(f["time"], "followup.time"),
        clock_enabled=c["enabled"], rules=rules,
        interval_s=float(dl["interval_s"]), timeout_s=float(dl["timeout_s"]),
        backoff_min_s=float(dl["backoff_min_s"]), backoff_max_s=float(dl["backoff_max_s"]),
        deadline=rules.deadline, stuck_after_s=60.0 * float(dl["stuck_after_minutes"]),
    )


def parse(text: str, source: str = "<string>") -> Config:
    """`kiosk.core.config.parse` plus the delivery settings' checks (raises ConfigError naming the key)."""
    cfg = _parse_config(text, source)
    read(cfg)
    return cfg


def load(path: str | os.PathLike | None = None) -> Config:
    """Central's config: `kiosk.core.config.load` plus the delivery settings' checks."""
    cfg = _load_config(path)
    read(cfg)
    return cfg
