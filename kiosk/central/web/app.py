"""The team lead's web app (Starlette + Jinja2, server-rendered; htmx vendored in static/).

    app = create_app("central.db", secret=b"...", clock=lambda: datetime.now(timezone.utc))

Every page needs a signed-in user (`/login`); GET pages redirect there, fragments, downloads and
writes answer 401. Sessions are stored at central (`sessions`, table `web_sessions`): the cookie
holds only an opaque random id; signing out, removing a user or changing their role or password
ends their sessions at once, at every web process; idle and absolute timeouts come from
`Settings` (`[web]` of the config). Every form that writes carries the session's CSRF token
(before sign-in: a token bound to a random pre-session cookie); only role `tl` may acknowledge or
answer; every write goes to `web_audit`.

Each request's work (database, rendering) runs in Starlette's thread pool, off the event loop:
a long download does not hold up another TL's page.

`db` is a SQLite path or a PostgreSQL URL (`kiosk.central.db`). The app keeps no state of its own
between requests: users, sessions, sign-in failures, acknowledgements and the audit are in the
database. So several `kiosk web` processes on one PostgreSQL database, given the same secret,
serve one address behind a reverse proxy (docs/central-operations.md: "Several web processes").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import contextlib
import secrets
import threading
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ... import __version__
from ...core import followup
from ..db import Conn, open_database
from ..delivery.config import DeliveryConfig
from . import auth, deliveries, oidc, schema, sessions, state, views
from .. import heartbeat
from .headers import SecurityHeaders
from .metrics import CONTENT_TYPE, Metrics, Timing
from .settings import Settings

HERE = Path(__file__).resolve().parent
COOKIE = "returpost_tl"
PRE_COOKIE = "returpost_pre"  # before sign-in: binds the sign-in form's CSRF token to this browser

def _now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Db:
    """Central's database (`kiosk.central.db`: SQLite's connection per thread or PostgreSQL's
    pool); its rooms and the web room migrated once at start."""

    def __init__(self, target: str | Path):
        self.database = open_database(target)
        self._lock = threading.Lock()  # one refresh at a time in this process (others wait for it)
        try:
            schema.ensure(self.database)
        except BaseException:
            self.database.close()
            raise

    def conn(self) -> contextlib.AbstractContextManager[Conn]:
        """A connection, each statement its own transaction (reads, the audit of a sign-out)."""
        return self.database.connection()

    def transaction(self) -> contextlib.AbstractContextManager[Conn]:
        return self.database.transaction()

    def refresh(self, now: dt.datetime) -> None:
        """The materialised summaries brought up to date (kiosk.central.summaries)."""
        with self._lock:
            state.refresh(self.database, now)

    @contextlib.contextmanager
    def fresh(self, now: dt.datetime) -> Iterator[Conn]:
        """A connection, with the materialised summaries brought up to date first."""
        self.refresh(now)
        with self.database.connection() as conn:
            yield conn

    def close(self) -> None:
        self.database.close()


def threaded(handler: Callable[[Request, dict | None], Response]):
    """An endpoint running `handler(request, form)` in Starlette's thread pool: the form (of a
    POST) is read on the event loop, everything else (database, rendering) off it."""

    async def endpoint(request: Request) -> Response:
        form = dict(await request.form()) if request.method == "POST" else None
        return await run_in_threadpool(handler, request, form)

    endpoint.__name__ = handler.__name__
    return endpoint


def create_app(db_path: str | Path, *, secret: bytes | str, clock: Callable[[], dt.datetime] = _now_utc,
               https_only: bool = False, settings: Settings | None = None,
               delivery: DeliveryConfig | None = None) -> Starlette:
    """`delivery`: central's delivery settings (targets, stuck age) for /leveranser."""
    db = Db(db_path)
    cfg = settings or Settings()
    metrics = Metrics(db.database)
    provider = oidc.Provider(cfg.oidc) if cfg.oidc else None
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["local"] = views.local
    env.globals["version"] = __version__
    env.globals["oidc_name"] = cfg.oidc.name if cfg.oidc else None  # the login page's "Logga in med ..."

    def page(request: Request, name: str, status: int = 200, **ctx) -> Response:
        ctx.setdefault("user", _user(request))
        ctx["csrf"] = _csrf(request)
        ctx["path"] = request.url.path
        return _with_cookies(request, HTMLResponse(env.get_template(name).render(**ctx), status_code=status))

    def _with_cookies(request: Request, response: Response) -> Response:
        """The cookies this request decided on: a new pre-session, a session begun or ended."""
        pre = getattr(request.state, "new_pre", None)
        if pre:
            response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="lax", secure=https_only)
        begun = getattr(request.state, "begun", None)
        if begun:
            response.set_cookie(COOKIE, begun, max_age=int(cfg.session_absolute.total_seconds()), httponly=True,
                                samesite="lax", secure=https_only)
        elif getattr(request.state, "ended", False) or getattr(request.state, "stale", False):
            response.delete_cookie(COOKIE, httponly=True, samesite="lax", secure=https_only)
        return response

    def _session(request: Request) -> sessions.Session | None:
        """This request's live session (looked up once per request)."""
        if not hasattr(request.state, "session"):
            cookie = request.cookies.get(COOKIE)
            found = None
            if cookie and not getattr(request.state, "ended", False):
                polling = request.method == "GET" and "hx-request" in request.headers
                with db.conn() as conn:
                    found = sessions.find(conn, cookie, clock(), idle=cfg.session_idle,
                                          absolute=cfg.session_absolute, touch=not polling)
                    if found is not None and found.via == "password" and auth.role_of(conn, found.username) != found.role:
                        sessions.end(conn, found.key)  # removed, or another role now
                        found = None
                request.state.stale = found is None
            request.state.session = found
        return request.state.session

    def _user(request: Request) -> dict | None:
        s = _session(request)
        if s is None:
            return None
        return {"name": s.username, "role": s.role, "tl": s.role == "tl", "via": s.via}

    def _pre(request: Request) -> str:
        """This browser's pre-session id (made now, and set as a cookie, when it has none)."""
        pre = request.cookies.get(PRE_COOKIE) or getattr(request.state, "new_pre", None)
        if not pre:
            pre = request.state.new_pre = secrets.token_urlsafe(24)
        return pre

    def _csrf(request: Request) -> str:
        s = _session(request)
        if s is not None:
            return s.csrf
        return hmac.new(key, b"csrf:" + _pre(request).encode(), hashlib.sha256).hexdigest()

    def _csrf_ok(request: Request, form) -> bool:
        got = (form or {}).get("csrf")
        if not isinstance(got, str) or not got:
            return False
        if _session(request) is None and not request.cookies.get(PRE_COOKIE):
            return False
        return hmac.compare_digest(_csrf(request), got)

    def guard(request: Request, form: dict | None = None, *, tl: bool = False, html: bool = True):
        """(user, None) when the request may go on, else (None, the response that refuses it):
        signed in, a TL when `tl`, and on a POST a valid CSRF code in its `form` (none given: refused)."""
        user = _user(request)
        if user is None:
            if html and request.method == "GET" and "hx-request" not in request.headers:
                return None, _with_cookies(request, RedirectResponse(
                    "/login?next=" + quote(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
                                           safe=""), status_code=303))
            # htmx follows HX-Redirect: a page left open past the session's end goes to sign-in
            return None, _with_cookies(request, PlainTextResponse("Logga in först.", status_code=401,
                                                                  headers={"HX-Redirect": "/login"}))
        if tl and not user["tl"]:
            return None, page(request, "error.html", 403, title="Inte tillåtet",
                              message="Bara en TL får kvittera larm och svara på tillfälliga utskick.")
        if request.method == "POST" and not _csrf_ok(request, form):
            return None, page(request, "error.html", 403, title="Ogiltigt formulär",
                              message="Formuläret saknar giltig säkerhetskod (CSRF). Ladda om sidan och försök igen.")
        return user, None

    def ip(request: Request) -> str | None:
        return request.client.host if request.client else None

    def sign_in(request: Request, username: str, role: str, via: str, nxt: str, id_token: str | None = None) -> Response:
        """A new session for `username` (any earlier one of this browser ended): to `nxt`."""
        now = clock()
        with db.transaction() as conn:
            old = request.cookies.get(COOKIE)
            if old:
                sessions.end(conn, sessions.key_of(old))
            sessions.purge(conn, now, idle=cfg.session_idle, absolute=cfg.session_absolute)
            request.state.begun = sessions.begin(conn, username, role, via, now, ip(request), id_token)
        return _with_cookies(request, RedirectResponse(nxt, status_code=303))

    # -- sign in / out ---------------------------------------------------------------------------
    def login(request: Request, form) -> Response:
        nxt = request.query_params.get("next") or "/"
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        if request.method == "GET":
            return page(request, "login.html", user=None, next=nxt, error=None)
        if not _csrf_ok(request, form):
            return page(request, "login.html", 403, user=None, next=nxt,
                        error="Formuläret har gått ut. Ladda om sidan och försök igen.")
        username = str(form.get("username") or "")[:64]
        password = str(form.get("password") or "")[:1024]
        now = clock()
        with db.transaction() as conn:
            role, error = auth.check_login(conn, username, password, ip(request), now)
        if role is None:
            status = 429 if error and error.startswith("För många") else 401
            return page(request, "login.html", status, user=None, next=nxt, error=error, username=username)
        return sign_in(request, username, role, "password", nxt)

    def logout(request: Request, form) -> Response:
        s = _session(request)
        to = "/login"
        if s is not None and _csrf_ok(request, form):
            with db.transaction() as conn:
                sessions.end(conn, s.key)
                auth.audit(conn, clock(), s.username, "logout", None, ip(request))
            request.state.ended = True
            if s.via == "oidc" and provider is not None:  # signed out at the provider too
                to = provider.logout_url(s.id_token, _base(request) + "/login") or to
        return _with_cookies(request, RedirectResponse(to, status_code=303))

    # -- sign in with the organisation's account (OpenID Connect) ---------------------------------
    def _base(request: Request) -> str:
        """The app's address as the browser reaches it (behind a trusted proxy: its scheme and host)."""
        return f"{request.url.scheme}://{request.url.netloc}"

    def _login_refused(request: Request, exc: oidc.Refused) -> Response:
        import logging

        logging.getLogger(__name__).warning("%s (from %s)", exc, ip(request))
        return page(request, "login.html", exc.status, user=None, next="/", error=exc.message)

    def oidc_begin(request: Request, form) -> Response:
        if provider is None:
            return page(request, "error.html", 404, title="Finns inte", message="Inloggning med organisationens "
                        "konto är inte inställd här.")
        nxt = request.query_params.get("next") or "/"
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        pre = _pre(request)  # the answer must come back to this browser
        try:
            with db.transaction() as conn:
                url = provider.begin(conn, pre, nxt, _base(request) + "/login/oidc/svar", clock())
        except oidc.Refused as exc:
            return _login_refused(request, exc)
        return _with_cookies(request, RedirectResponse(url, status_code=303))

    def oidc_answer(request: Request, form) -> Response:
        if provider is None:
            return page(request, "error.html", 404, title="Finns inte", message="Inloggning med organisationens "
                        "konto är inte inställd här.")
        q = request.query_params
        now = clock()
        try:
            with db.transaction() as conn:
                nonce, verifier, nxt = provider.take_state(conn, q.get("state") or "", request.cookies.get(PRE_COOKIE),
                                                           now)
            if q.get("error"):
                raise oidc.Refused(f"{provider.cfg.name} avbröt inloggningen.", 403, f"oidc: provider said {q['error']}")
            who = provider.finish(q.get("code") or "", nonce, verifier, _base(request) + "/login/oidc/svar", now)
        except oidc.Refused as exc:
            return _login_refused(request, exc)
        with db.conn() as conn:
            auth.audit(conn, now, who.username, "login", {"via": "oidc", "role": who.role}, ip(request))
        return sign_in(request, who.username, who.role, "oidc", nxt, who.id_token)

    def sign_in_locks(request: Request, form) -> Response:
        """The sign-in locks in force (TL only), each liftable."""
        user, refused = guard(request, form, tl=True)
        if refused:
            return refused
        now = clock()
        if request.method == "POST":
            username = str(form.get("username") or "") or None
            with db.transaction() as conn:
                auth.lift(conn, username, str(form.get("ip") or ""), now, user["name"], ip(request))
            return RedirectResponse("/sparrar?ok=1", status_code=303)
        with db.conn() as conn:
            found = auth.locks(conn, now)
        for lock in found:
            lock["until_text"] = lock["until"].astimezone(views.TZ).strftime("%H:%M")
        return page(request, "locks.html", title="Spärrar", locks=found, lifted=bool(request.query_params.get("ok")),
                    per_user=auth.THROTTLE_MAX, per_address=auth.THROTTLE_ADDRESS_MAX,
                    minutes=int(auth.THROTTLE_WINDOW.total_seconds() // 60))

    # -- for the load balancer and Prometheus (no sign-in) ------------------------------------------
    def healthz(request: Request, form) -> Response:
        """Alive: the process answers (nothing else is asked)."""
        return PlainTextResponse("ok\n")

    def readyz(request: Request, form) -> Response:
        """Ready: central's database answers, and the collector's and the delivery worker's
        heartbeats are fresh (`Settings.heartbeat_fresh`). 503 with the reasons otherwise."""
        now = clock()
        problems = []
        try:
            with db.conn() as conn:
                conn.query_one("select count(*) from schema_migrations")
                beats = heartbeat.read(conn)
        except Exception as exc:  # noqa: BLE001 - any failure to read is "not ready", said
            return PlainTextResponse(f"not ready: database: {type(exc).__name__}\n", status_code=503)
        for name in (heartbeat.COLLECTOR, heartbeat.DELIVERY):
            at = beats.get(name)
            if at is None:
                problems.append(f"{name}: no heartbeat")
            elif now - at > cfg.heartbeat_fresh:
                problems.append(f"{name}: last heartbeat {int((now - at).total_seconds())} s ago")
        if problems:
            return PlainTextResponse("not ready: " + "; ".join(problems) + "\n", status_code=503)
        return PlainTextResponse("ready\n")

    def metrics_page(request: Request, form) -> Response:
        if not cfg.metrics_token:
            return PlainTextResponse("metrics are off: set [web] metrics_token or metrics_token_file\n",
                                     status_code=404)
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {cfg.metrics_token}".encode()):
            return PlainTextResponse("Authorization: Bearer <[web] metrics_token> needed\n", status_code=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    # -- pages ---------------------------------------------------------------------------------
    def today(request: Request, form) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        now = clock()
        with db.fresh(now) as conn:
            ctx = views.today(conn, now)
        return page(request, "today.html", title="Idag", **ctx)

    def today_cards(request: Request, form) -> Response:
        user, refused = guard(request, html=False)
        if refused:
            return refused
        now = clock()
        with db.fresh(now) as conn:
            ctx = views.today(conn, now)
        return page(request, "_cards.html", **ctx)

    def open_alerts(request: Request, form) -> Response:
        user, refused = guard(request, html=False)
        if refused:
            return refused
        with db.fresh(clock()) as conn:
            n = state.open_count(conn)
        return page(request, "_alert_badge.html", open_alerts=n)

    def alerts(request: Request, form) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        now = clock()
        msg = request.query_params.get("ok")
        with db.fresh(now) as conn:
            ctx = views.alerts_page(conn, now, page=views.page_number(request.query_params.get("sida")))
        # the confirmation goes into the alert acted on, which the address's fragment scrolls to
        acted = request.query_params.get("larm")
        acted = acted if any(a["alert"] == acted for a in ctx["alerts"]) else None
        return page(request, "alerts.html", title="Larm", notice=_NOTICES.get(msg or ""), acted=acted, **ctx)

    def alert_action(request: Request, form) -> Response:
        user, refused = guard(request, form, tl=True, html=False)
        if refused:
            return refused
        action = request.path_params["action"]
        alert_id = request.path_params["alert_id"]
        now = clock()
        db.refresh(now)
        try:
            with db.transaction() as conn:
                done = state.record(conn, alert_id, action, user["name"], now, str(form.get("text") or ""))
                auth.audit(conn, now, user["name"], f"alert_{action}", done, ip(request))
        except state.ActionError as exc:  # nothing written: the transaction rolled back
            return page(request, "error.html", 400, title="Kunde inte spara", message=str(exc))
        with db.fresh(now) as conn:  # the page the alert is on now (acknowledged: after the open ones)
            n = views.alert_page_of(conn, now, alert_id)
        where = urlencode({"ok": action, "larm": alert_id, **({"sida": n} if n > 1 else {})})
        return RedirectResponse(f"/larm?{where}#larm-{quote(alert_id, safe='')}", status_code=303)

    def leveranser(request: Request, form) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        ctx = deliveries.stuck_page(db.database, delivery, clock())
        return page(request, "deliveries.html", title="Leveranser", notice=deliveries.NOTICES.get(
            request.query_params.get("ok") or ""), stuck_minutes=round((delivery.stuck_after_s if delivery else 3600) / 60),
            **ctx)

    def leverans_action(request: Request, form) -> Response:
        user, refused = guard(request, form, tl=True, html=False)
        if refused:
            return refused
        action, n = request.path_params["action"], request.path_params["n"]
        if action not in ("retry", "release"):
            return page(request, "error.html", 400, title="Kunde inte spara", message="Okänd åtgärd.")
        now = clock()
        done = deliveries.act(db.database, delivery, n, action, user["name"], now)
        with db.conn() as conn:
            auth.audit(conn, now, user["name"], f"delivery_{action}", {"n": n, "result": done}, ip(request))
        return RedirectResponse(f"/leveranser?ok={done}", status_code=303)

    def uppfoljning(request: Request, form) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        now = clock()
        today_ = now.astimezone(views.TZ).date()
        try:
            d_from = views.parse_day(request.query_params.get("from"), today_.replace(day=1))
            d_to = views.parse_day(request.query_params.get("to"), today_)
        except ValueError:
            return page(request, "error.html", 400, title="Fel datum", message="Ange datum som ÅÅÅÅ-MM-DD.")
        fmt = request.query_params.get("format")
        with db.fresh(now) as conn:
            name = f"uppfoljning_{d_from.isoformat()}_{d_to.isoformat()}"
            if fmt in ("csv", "xlsx"):
                rows, total = views.full_sheet(conn, now, d_from, d_to)
            if fmt == "csv":
                text = followup.sheet_csv(rows, total)
                return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
            if fmt == "xlsx":
                import tempfile

                with tempfile.TemporaryDirectory() as tmp:
                    path = followup.write_workbook(rows, views.all_cases(conn, d_from, d_to),
                                                   Path(tmp) / f"{name}.xlsx", total)
                    body = path.read_bytes()
                return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
            return page(request, "followup.html", title="Uppföljning",
                        **views.followup_page(conn, now, d_from, d_to,
                                              page=views.page_number(request.query_params.get("sida"))))

    def returer(request: Request, form) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        now = clock()
        try:
            day = views.parse_day(request.query_params.get("day"), now.astimezone(views.TZ).date())
        except ValueError:
            return page(request, "error.html", 400, title="Fel datum", message="Ange datum som ÅÅÅÅ-MM-DD.")
        with db.fresh(now) as conn:
            scans = views.returns(conn, day)
        if request.query_params.get("format") == "csv":
            import csv
            import io

            buf = io.StringIO()
            buf.write("\ufeff")
            w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
            w.writerow(("Datum",) + views.RETURN_COLUMNS)
            for s in scans:
                w.writerow([day.isoformat()] + [s[c] for c in views.RETURN_COLUMNS])
            return Response(buf.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="returer_{day.isoformat()}.csv"'})
        per_pile: dict[str, int] = {}
        for s in scans:
            per_pile[s["Hög"]] = per_pile.get(s["Hög"], 0) + 1
        return page(request, "returns.html", title="Returnerade fakturor", day=day.isoformat(), scans=scans,
                    columns=views.RETURN_COLUMNS, per_pile=per_pile)

    def historik(request: Request, form) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        now = clock()
        today_ = now.astimezone(views.TZ).date()
        try:
            d_to = views.parse_day(request.query_params.get("to"), today_)
            d_from = views.parse_day(request.query_params.get("from"), d_to - dt.timedelta(weeks=12))
        except ValueError:
            return page(request, "error.html", 400, title="Fel datum", message="Ange datum som ÅÅÅÅ-MM-DD.")
        with db.fresh(now) as conn:
            return page(request, "history.html", title="Historik", kiosks=views.kiosk_names(conn),
                        **views.history(conn, d_from, d_to, request.query_params.get("kiosk")))

    def kiosker(request: Request, form) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        now = clock()
        with db.fresh(now) as conn:
            kiosks = views.fleet(conn)
        return page(request, "fleet.html", title="Kiosker", kiosks=kiosks)

    routes = [
        Route("/", threaded(today)),
        Route("/delar/idag", threaded(today_cards)),
        Route("/delar/larm", threaded(open_alerts)),
        Route("/larm", threaded(alerts)),
        Route("/larm/{alert_id}/{action:str}", threaded(alert_action), methods=["POST"]),
        Route("/leveranser", threaded(leveranser)),
        Route("/leveranser/{n:int}/{action:str}", threaded(leverans_action), methods=["POST"]),
        Route("/uppfoljning", threaded(uppfoljning)),
        Route("/returer", threaded(returer)),
        Route("/historik", threaded(historik)),
        Route("/kiosker", threaded(kiosker)),
        Route("/sparrar", threaded(sign_in_locks), methods=["GET", "POST"]),
        Route("/healthz", threaded(healthz)),
        Route("/readyz", threaded(readyz)),
        Route("/metrics", threaded(metrics_page)),
        Route("/login", threaded(login), methods=["GET", "POST"]),
        Route("/login/oidc", threaded(oidc_begin)),
        Route("/login/oidc/svar", threaded(oidc_answer)),
        Route("/logout", threaded(logout), methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            db.close()  # the pool's connections (PostgreSQL) or the files (SQLite)

    async def http_error(request: Request, exc: Exception) -> Response:
        """Starlette's own errors (no such page, a wrong method) in Swedish, as the app's pages."""
        code = getattr(exc, "status_code", 500)
        title, message = _HTTP_ERRORS.get(code, ("Något gick fel", f"Servern svarade med felkod {code}."))
        return page(request, "error.html", code, title=title, message=message)

    middleware = [Middleware(Timing, metrics=metrics), Middleware(SecurityHeaders)]
    if cfg.trusted_proxies:  # X-Forwarded-For/-Proto believed from these peers only (the client's address, https)
        middleware.insert(0, Middleware(ProxyHeadersMiddleware, trusted_hosts=list(cfg.trusted_proxies)))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware,
                    exception_handlers={HTTPException: http_error})
    app.state.db = db
    return app


_HTTP_ERRORS = {404: ("Sidan finns inte", "Adressen leder inte till någon sida. Använd menyn överst."),
                405: ("Det går inte att göra så här", "Sidan tar inte emot den sortens anrop. Använd knapparna "
                      "på sidorna.")}
_NOTICES = {"ack": "Larmet är kvitterat.", "answer": "Svaret är sparat och skickas till platsens kiosker.",
            "clear": "Svaret är borttaget från kioskerna."}
