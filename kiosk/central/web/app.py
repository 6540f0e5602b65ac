"""The team lead's web app (Starlette + Jinja2, server-rendered; htmx vendored in static/).

    app = create_app("central.db", secret=b"...", clock=lambda: datetime.now(timezone.utc))

Every page needs a signed-in user (`/login`); GET pages redirect there, fragments, downloads and
writes answer 401. Sessions are signed cookies (Starlette's SessionMiddleware, itsdangerous)
with an expiry, checked again on the server (`SESSION_HOURS`) and against `web_users` (a removed
user is out at once). Every form that writes carries the session's CSRF token; only role `tl`
may acknowledge or answer; every write goes to `web_audit`.

`db` is a SQLite path or a PostgreSQL URL (`kiosk.central.db`). The app keeps no state of its own
between requests: users, sign-in failures, acknowledgements and the audit are in the database, a
session is the signed cookie. So several `kiosk web` processes on one PostgreSQL database, given
the same secret, serve one address behind a reverse proxy (docs/central-operations.md: "Several web processes").
"""

from __future__ import annotations

import datetime as dt
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
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ... import __version__
from .. import followup
from ..db import Conn, open_database
from ..delivery.config import DeliveryConfig
from . import auth, deliveries, schema, state, views

HERE = Path(__file__).resolve().parent
SESSION_HOURS = 10
COOKIE = "returpost_tl"


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


def create_app(db_path: str | Path, *, secret: bytes | str, clock: Callable[[], dt.datetime] = _now_utc,
               https_only: bool = False, delivery: DeliveryConfig | None = None) -> Starlette:
    """`delivery`: central's delivery settings (targets, stuck age) for /leveranser."""
    db = Db(db_path)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["local"] = views.local
    env.globals["version"] = __version__

    def page(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        ctx.setdefault("user", _user(request))
        ctx["csrf"] = _csrf(request)
        ctx["path"] = request.url.path
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status)

    def _user(request: Request) -> dict | None:
        s = request.session
        name, at = s.get("user"), s.get("login_at")
        if not name or not at:
            return None
        try:
            started = dt.datetime.fromisoformat(at)
        except ValueError:
            return None
        if clock() - started > dt.timedelta(hours=SESSION_HOURS) or started > clock() + dt.timedelta(minutes=5):
            s.clear()
            return None
        with db.conn() as conn:
            role = auth.role_of(conn, name)
        if role is None:
            s.clear()
            return None
        return {"name": name, "role": role, "tl": role == "tl"}

    def _csrf(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            request.session["csrf"] = token
        return token

    def _csrf_ok(request: Request, form) -> bool:
        want = request.session.get("csrf")
        got = form.get("csrf")
        return isinstance(want, str) and bool(want) and isinstance(got, str) and hmac.compare_digest(want, got)

    def guard(request: Request, *, tl: bool = False, html: bool = True):
        user = _user(request)
        if user is None:
            if html and request.method == "GET" and "hx-request" not in request.headers:
                return None, RedirectResponse("/login?next=" + quote(str(request.url.path)
                                              + (f"?{request.url.query}" if request.url.query else ""), safe=""),
                                              status_code=303)
            # htmx follows HX-Redirect: a page left open past the session's end goes to sign-in
            return None, PlainTextResponse("Logga in först.", status_code=401, headers={"HX-Redirect": "/login"})
        if tl and not user["tl"]:
            return None, page(request, "error.html", 403, title="Inte tillåtet",
                              message="Bara en TL får kvittera larm och svara på tillfälliga utskick.")
        return user, None

    def ip(request: Request) -> str | None:
        return request.client.host if request.client else None

    # -- sign in / out ---------------------------------------------------------------------------
    async def login(request: Request) -> Response:
        nxt = request.query_params.get("next") or "/"
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        if request.method == "GET":
            return page(request, "login.html", user=None, next=nxt, error=None)
        form = await request.form()
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
        request.session.clear()
        request.session.update({"user": username, "login_at": now.isoformat(), "csrf": secrets.token_urlsafe(32)})
        return RedirectResponse(nxt, status_code=303)

    async def logout(request: Request) -> Response:
        form = await request.form()
        if _csrf_ok(request, form):
            user = request.session.get("user")
            with db.conn() as conn:
                auth.audit(conn, clock(), user, "logout", None, ip(request))
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -- pages ---------------------------------------------------------------------------------
    async def today(request: Request) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        now = clock()
        with db.fresh(now) as conn:
            ctx = views.today(conn, now)
        return page(request, "today.html", title="Idag", **ctx)

    async def today_cards(request: Request) -> Response:
        user, refused = guard(request, html=False)
        if refused:
            return refused
        now = clock()
        with db.fresh(now) as conn:
            ctx = views.today(conn, now)
        return page(request, "_cards.html", **ctx)

    async def open_alerts(request: Request) -> Response:
        user, refused = guard(request, html=False)
        if refused:
            return refused
        with db.fresh(clock()) as conn:
            n = state.open_count(conn)
        return page(request, "_alert_badge.html", open_alerts=n)

    async def alerts(request: Request) -> Response:
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

    async def alert_action(request: Request) -> Response:
        user, refused = guard(request, tl=True, html=False)
        if refused:
            return refused
        form = await request.form()
        if not _csrf_ok(request, form):
            return page(request, "error.html", 403, title="Ogiltigt formulär",
                        message="Formuläret saknar giltig säkerhetskod (CSRF). Ladda om sidan och försök igen.")
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

    async def leveranser(request: Request) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        ctx = deliveries.stuck_page(db.database, delivery, clock())
        return page(request, "deliveries.html", title="Leveranser", notice=deliveries.NOTICES.get(
            request.query_params.get("ok") or ""), stuck_minutes=round((delivery.stuck_after_s if delivery else 3600) / 60),
            **ctx)

    async def leverans_action(request: Request) -> Response:
        user, refused = guard(request, tl=True, html=False)
        if refused:
            return refused
        form = await request.form()
        if not _csrf_ok(request, form):
            return page(request, "error.html", 403, title="Ogiltigt formulär",
                        message="Formuläret saknar giltig säkerhetskod (CSRF). Ladda om sidan och försök igen.")
        action, n = request.path_params["action"], request.path_params["n"]
        if action not in ("retry", "release"):
            return page(request, "error.html", 400, title="Kunde inte spara", message="Okänd åtgärd.")
        now = clock()
        done = deliveries.act(db.database, delivery, n, action, user["name"], now)
        with db.conn() as conn:
            auth.audit(conn, now, user["name"], f"delivery_{action}", {"n": n, "result": done}, ip(request))
        return RedirectResponse(f"/leveranser?ok={done}", status_code=303)

    async def uppfoljning(request: Request) -> Response:
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
                text = followup.to_csv(rows, total)
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

    async def returer(request: Request) -> Response:
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

    async def historik(request: Request) -> Response:
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

    async def kiosker(request: Request) -> Response:
        user, refused = guard(request)
        if refused:
            return refused
        now = clock()
        with db.fresh(now) as conn:
            kiosks = views.fleet(conn)
        return page(request, "fleet.html", title="Kiosker", kiosks=kiosks)

    routes = [
        Route("/", today),
        Route("/delar/idag", today_cards),
        Route("/delar/larm", open_alerts),
        Route("/larm", alerts),
        Route("/larm/{alert_id}/{action:str}", alert_action, methods=["POST"]),
        Route("/leveranser", leveranser),
        Route("/leveranser/{n:int}/{action:str}", leverans_action, methods=["POST"]),
        Route("/uppfoljning", uppfoljning),
        Route("/returer", returer),
        Route("/historik", historik),
        Route("/kiosker", kiosker),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secret if isinstance(secret, str) else secret.hex(),
                             session_cookie=COOKIE, max_age=SESSION_HOURS * 3600, same_site="lax",
                             https_only=https_only)]
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

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error})
    app.state.db = db
    return app


_HTTP_ERRORS = {404: ("Sidan finns inte", "Adressen leder inte till någon sida. Använd menyn överst."),
                405: ("Det går inte att göra så här", "Sidan tar inte emot den sortens anrop. Använd knapparna "
                      "på sidorna.")}
_NOTICES = {"ack": "Larmet är kvitterat.", "answer": "Svaret är sparat och skickas till platsens kiosker.",
            "clear": "Svaret är borttaget från kioskerna."}
