"""`kiosk web` (serve the TL web app) and `kiosk web-user add|list|remove`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import os
import secrets
import sys
from pathlib import Path


def _db_target(args) -> str:
    """Central's database: `--db` or `central.db` of the config, a path or a postgresql:// URL."""
    if getattr(args, "db", None):
        return str(args.db)
    from ..delivery.config import load

    return str(load(args.config).db_target())


def _delivery_config(args):
    """Central's delivery settings for /leveranser (None, and the page says so, when the config
    cannot be read: the web app still serves every other page)."""
    from ...core.config import ConfigError, load
    from ..delivery.config import read

    try:
        return read(load(args.config))
    except (ConfigError, OSError, ValueError):
        return None


def _secret_path(args, target: str) -> Path:
    """--secret-file, else `web-secret` beside a SQLite file, else (a URL) in the working directory
    (the unit's state directory, writable where /etc is not). Several web processes behind one
    address must share one secret: give each the same file."""
    from ..db import is_url

    if args.secret_file:
        return Path(args.secret_file)
    if not is_url(target):
        return Path(target).with_name("web-secret")
    return Path.cwd() / "web-secret"


def _open_failures(errors) -> tuple[type[BaseException], ...]:
    """What opening central's database raises when it cannot: a file, or a server not there."""
    return (OSError, *errors("operational"))


def _secret(path: Path) -> str:
    """The session-signing key: read from `path`, made there (mode 0600) the first time."""
    try:
        text = path.read_text(encoding="utf-8").strip()
        if len(text) >= 32:
            return text
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    text = secrets.token_hex(32)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return text


def web_main(args) -> int:
    import uvicorn

    from ..db import display_name, errors
    from .app import create_app

    db = _db_target(args)
    secret_file = _secret_path(args, db)
    try:
        secret = _secret(secret_file)
    except OSError as exc:
        print(f"web: cannot read or make the session secret {secret_file}: {exc}", file=sys.stderr)
        return 2
    from ...core.config import load
    from . import settings

    from ...core import logs

    try:
        web = settings.from_config(load(args.config))
    except OSError as exc:
        print(f"web: cannot read a secret file of [web]: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"web: [web.oidc] client_secret_env: no environment variable {exc}", file=sys.stderr)
        return 2
    logs.protect([web.metrics_token, web.oidc.client_secret if web.oidc else ""])
    if args.forwarded_allow_ips is not None:
        web = dataclasses.replace(web, trusted_proxies=tuple(
            p.strip() for p in args.forwarded_allow_ips.split(",") if p.strip()))
    try:
        app = create_app(db, secret=secret, https_only=args.https_only, settings=web,
                         delivery=_delivery_config(args))
    except _open_failures(errors) as exc:
        print(f"cannot open the central database {display_name(db)}: {exc}", file=sys.stderr)
        return 2
    if bool(args.certfile) != bool(args.keyfile):
        print("web: --certfile and --keyfile go together", file=sys.stderr)
        return 2
    scheme = "https" if args.certfile else "http"
    print(f"web: serving {display_name(db)} on {scheme}://{args.host}:{args.port}/", file=sys.stderr)
    # X-Forwarded-* are the app's to believe, from [web] trusted_proxies only (not uvicorn's 127.0.0.1)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=False, server_header=False,
                ssl_certfile=args.certfile, ssl_keyfile=args.keyfile)
    return 0


def user_main(args) -> int:
    from ..db import display_name, errors, open_database

    target = _db_target(args)
    try:
        db = open_database(target)
    except _open_failures(errors) as exc:
        print(f"web-user: cannot open the central database {display_name(target)}: {exc}", file=sys.stderr)
        return 2
    try:
        return _user_action(args, db)
    finally:
        db.close()


def _user_action(args, db) -> int:
    from . import auth, schema

    schema.ensure(db)
    now = dt.datetime.now(dt.timezone.utc)
    if args.action == "list":
        with db.connection() as conn:
            found = auth.users(conn)
        for u in found:
            print(f"{u['username']}\t{u['role']}\t{u['created_at']}")
        return 0
    if not args.name:
        print("web-user: NAME is needed", file=sys.stderr)
        return 2
    if args.action == "remove":
        with db.transaction() as conn:
            gone = auth.remove_user(conn, args.name, now)
        if not gone:
            print(f"web-user: no user {args.name!r}", file=sys.stderr)
            return 1
        print(f"removed {args.name}")
        return 0
    if args.password_file:
        password = Path(args.password_file).read_text(encoding="utf-8").rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("web-user: the passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        with db.transaction() as conn:
            auth.add_user(conn, args.name, args.role, password, now)
    except auth.UserError as exc:
        print(f"web-user: {exc}", file=sys.stderr)
        return 2
    print(f"added {args.name} ({args.role})")
    return 0


def add_parsers(sub) -> None:
    """The `web` and `web-user` subcommands (called from kiosk/cli.py)."""
    w = sub.add_parser("web", help="the team lead's web app at central (Swedish; reads central's database)")
    w.add_argument("--db", help="central database: a SQLite file or a postgresql:// URL (default: central.db in the config)")
    w.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1: behind the TLS proxy)")
    w.add_argument("--port", type=int, default=8080)
    w.add_argument("--secret-file", help="key of the sign-in form's CSRF token (default: web-secret beside a SQLite database, else in the"
                   " working directory; made if absent); several web processes behind one address share one file")
    w.add_argument("--https-only", action="store_true", help="mark the session cookie Secure (behind HTTPS)")
    w.add_argument("--certfile", help="serve HTTPS itself with this certificate (instead of a reverse proxy)")
    w.add_argument("--keyfile", help="the certificate's private key")
    w.add_argument("--forwarded-allow-ips", default=None,
                   help="comma-separated reverse proxies whose X-Forwarded-For/-Proto are believed (default: [web]"
                   " trusted_proxies of the config: 127.0.0.1, the reverse proxy on this host)")
    w.set_defaults(func=web_main)
    u = sub.add_parser("web-user", help="web app users: add NAME --role tl|viewer, list, remove NAME")
    u.add_argument("action", choices=("add", "list", "remove"))
    u.add_argument("name", nargs="?")
    u.add_argument("--role", choices=("tl", "viewer"), default="viewer")
    u.add_argument("--password-file", help="read the password from this file (else stdin; never the command line)")
    u.add_argument("--db", help="central database: a SQLite file or a postgresql:// URL (default: central.db in the config)")
    u.set_defaults(func=user_main)
