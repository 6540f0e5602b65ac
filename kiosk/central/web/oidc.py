"""Sign-in with the organisation's account: OpenID Connect, authorization code flow with PKCE,
state and nonce (Authlib's OAuth 2 client; the ID token checked with joserfc, Authlib's JOSE).

    begin(...)   -> the provider's authorization URL; the state, nonce and PKCE verifier are kept
                    in `web_oidc_logins` (central's database: any web process may take the answer),
                    bound to the browser's pre-session cookie
    finish(...)  -> who signed in and their role, or a Swedish refusal; the state row is deleted
                    as it is read, so a replayed answer finds nothing

The ID token must be signed by a key of the provider's JWKS, name the configured issuer and client
id, carry the nonce of this sign-in, and not be expired (by the app's clock). The role comes from
the configured claim (`roles` for Entra ID app roles, or `groups`): a value in `tl_values` gives
`tl`, else one in `viewer_values` gives `viewer`, else the user is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

from ..db import Conn

log = logging.getLogger(__name__)

# version 4 of room "web" (kiosk.central.web.schema)
# its table, web_oidc_logins: web migration step 5 in web/schema.py (frozen there)
LOGIN_TTL = dt.timedelta(minutes=10)  # the provider's answer must come within this
METADATA_TTL = 3600.0  # the provider's metadata and keys are fetched again after this (seconds)


@dataclass(frozen=True)
class OidcSettings:
    name: str  # shown as "Logga in med <name>"
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    roles_claim: str = "roles"
    tl_values: tuple[str, ...] = ("tl",)
    viewer_values: tuple[str, ...] = ("viewer",)
    username_claim: str = "preferred_username"
    scopes: str = "openid profile email"
    timeout_s: float = 10.0


class Refused(Exception):
    """A sign-in refused; `message` is Swedish, for the login page; `status` the HTTP status."""

    def __init__(self, message: str, status: int = 400, reason: str = ""):
        super().__init__(reason or message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class SignedIn:
    username: str
    role: str
    id_token: str


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _browser(pre: str) -> str:
    return hashlib.sha256(b"oidc:" + pre.encode()).hexdigest()


class Provider:
    """One configured provider: its metadata and keys (cached), the flow's two halves."""

    def __init__(self, cfg: OidcSettings):
        self.cfg = cfg
        self._lock = threading.Lock()
        self._meta: dict | None = None
        self._keys: object = None
        self._fetched = 0.0

    def _session(self, **kwargs):
        from authlib.integrations.requests_client import OAuth2Session

        return OAuth2Session(self.cfg.client_id, self.cfg.client_secret, scope=self.cfg.scopes,
                             code_challenge_method="S256", default_timeout=self.cfg.timeout_s, **kwargs)

    def metadata(self, refresh: bool = False) -> tuple[dict, object]:
        """The provider's discovery document and key set; its issuer must be the configured one."""
        from joserfc.jwk import KeySet

        with self._lock:
            if refresh or self._meta is None or time.monotonic() - self._fetched > METADATA_TTL:
                url = self.cfg.issuer.rstrip("/") + "/.well-known/openid-configuration"
                try:
                    with self._session() as s:
                        meta = s.get(url, timeout=self.cfg.timeout_s, withhold_token=True)
                        meta.raise_for_status()
                        doc = meta.json()
                        keys = s.get(doc["jwks_uri"], timeout=self.cfg.timeout_s, withhold_token=True)
                        keys.raise_for_status()
                        key_set = KeySet.import_key_set(keys.json())
                except Exception as exc:  # noqa: BLE001 - any failure to reach or read the provider
                    raise Refused(f"Kunde inte nå {self.cfg.name}. Försök igen om en stund.", 502,
                                  f"oidc: provider metadata: {type(exc).__name__}") from None
                if doc.get("issuer") != self.cfg.issuer:
                    raise Refused(f"Inloggningen med {self.cfg.name} är fel inställd (utfärdaren stämmer inte). "
                                  "Kontakta IT.", 502, f"oidc: discovery names issuer {doc.get('issuer')!r}, "
                                  f"configured {self.cfg.issuer!r}")
                self._meta, self._keys, self._fetched = doc, key_set, time.monotonic()
            return self._meta, self._keys

    def begin(self, conn: Conn, pre: str, nxt: str, redirect_uri: str, now: dt.datetime) -> str:
        """The URL to send the browser to; the flow's secrets stored for `finish`."""
        meta, _ = self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        conn.execute("delete from web_oidc_logins where created_at < ?", [_iso(now - LOGIN_TTL)])
        conn.execute("insert into web_oidc_logins(state, nonce, verifier, next, browser, created_at) "
                     "values (?,?,?,?,?,?)", [state, nonce, verifier, nxt, _browser(pre), _iso(now)])
        with self._session(redirect_uri=redirect_uri) as s:
            url, _ = s.create_authorization_url(meta["authorization_endpoint"], state=state, nonce=nonce,
                                                code_verifier=verifier)
        return url

    def take_state(self, conn: Conn, state: str, pre: str | None, now: dt.datetime) -> tuple[str, str, str]:
        """(nonce, verifier, next) of a pending sign-in, deleted as it is read (single use)."""
        row = conn.query_one("select nonce, verifier, next, browser, created_at from web_oidc_logins where state = ?",
                             [state]) if state else None
        if row is not None:
            conn.execute("delete from web_oidc_logins where state = ?", [state])
        if row is None or not pre or not secrets.compare_digest(row[3], _browser(pre)):
            raise Refused("Inloggningen har gått ut eller redan använts. Börja om.", 400,
                          "oidc: unknown, used or foreign state")
        if now - dt.datetime.fromisoformat(row[4].replace("Z", "+00:00")) > LOGIN_TTL:
            raise Refused("Inloggningen har gått ut. Börja om.", 400, "oidc: state too old")
        return row[0], row[1], row[2]

    def finish(self, code: str, nonce: str, verifier: str, redirect_uri: str, now: dt.datetime) -> SignedIn:
        """The code exchanged for tokens, the ID token checked, the role mapped."""
        meta, keys = self.metadata()
        try:
            with self._session(redirect_uri=redirect_uri) as s:
                token = s.fetch_token(meta["token_endpoint"], code=code, code_verifier=verifier,
                                      grant_type="authorization_code")
        except Exception as exc:  # noqa: BLE001
            raise Refused(f"{self.cfg.name} godkände inte inloggningen. Börja om.", 400,
                          f"oidc: token exchange: {type(exc).__name__}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Refused(f"{self.cfg.name} skickade ingen identitet. Börja om.", 400, "oidc: no id_token")
        claims = self.verify(id_token, nonce, now, keys)
        return SignedIn(self.username(claims), self.role(claims), id_token)

    def verify(self, id_token: str, nonce: str, now: dt.datetime, keys) -> dict:
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            decoded = jwt.decode(id_token, keys, algorithms=["RS256", "RS384", "RS512", "ES256", "PS256"])
            jwt.JWTClaimsRegistry(
                now=int(now.timestamp()), leeway=60,
                iss={"essential": True, "value": self.cfg.issuer},
                aud={"essential": True, "value": self.cfg.client_id},
                nonce={"essential": True, "value": nonce},
                exp={"essential": True}, iat={"essential": True}, sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise Refused(f"Inloggningen med {self.cfg.name} kunde inte bekräftas. Börja om.", 400,
                          f"oidc: ID token refused: {type(exc).__name__}: {exc}") from None
        return dict(decoded.claims)

    def username(self, claims: dict) -> str:
        for key in (self.cfg.username_claim, "preferred_username", "email", "sub"):
            value = claims.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:64]
        return str(claims["sub"])[:64]

    def role(self, claims: dict) -> str:
        value = claims.get(self.cfg.roles_claim)
        values = {value} if isinstance(value, str) else {str(v) for v in value} if isinstance(value, list) else set()
        if values & set(self.cfg.tl_values):
            return "tl"
        if values & set(self.cfg.viewer_values):
            return "viewer"
        raise Refused(f"Du är inloggad som {self.username(claims)} hos {self.cfg.name}, men du har ingen roll i "
                      "Returpost. Be IT ge dig rollen TL eller läsare.", 403,
                      f"oidc: {self.username(claims)} has no role in claim {self.cfg.roles_claim!r}")

    def logout_url(self, id_token: str | None, after: str) -> str | None:
        """The provider's end-session URL (RP-initiated logout), if it has one."""
        from urllib.parse import urlencode

        try:
            meta, _ = self.metadata()
        except Refused:
            return None
        end = meta.get("end_session_endpoint")
        if not end:
            return None
        args = {"post_logout_redirect_uri": after, "client_id": self.cfg.client_id}
        if id_token:
            args["id_token_hint"] = id_token
        return end + ("&" if "?" in end else "?") + urlencode(args)
