"""Local users with Argon2id-hashed passwords, API tokens for scripts, and server-side sessions.

Passwords are hashed with Argon2id (``argon2-cffi``, RFC 9106 parameters). A session is a random
token in an ``HttpOnly``, ``SameSite=Lax`` cookie (``Secure`` unless served on loopback), stored only
as its SHA-256 hash, with its own CSRF token that every state-changing request carrying the cookie
must echo in the ``X-CSRF-Token`` header or a ``csrf_token`` form field. API tokens (``Authorization:
Bearer …``) are stored as SHA-256 hashes too and need no CSRF token (a browser never sends them by itself).

Single sign-on: an organisation's identity provider (OpenID Connect or SAML, through a reverse proxy
or a FastAPI dependency) maps its user to a :class:`~placewise.publish.web.roles.User` and calls
:meth:`Auth.start_session`; everything after that is the same as for a local login (docs/web.md).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from placewise.publish.web.roles import ROLES, Role, User
from placewise.publish.web.store import WebStore

SESSION_COOKIE = "placewise_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_LENGTH = timedelta(hours=8)
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10


class UserError(ValueError):
    """A user cannot be added as asked; the message says why."""


def _digest(token: str) -> str:
    """SHA-256 of a session or API token: only this is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    """Now, UTC, without a zone (as stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Auth:
    """Users, sessions and tokens in the web store, with the live sessions and tokens cached in memory."""

    def __init__(self, store: WebStore) -> None:
        self.store = store
        self._hasher = PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        self._sessions: dict[str, tuple[User, str, datetime]] = {}
        self._tokens: dict[str, User] = {}
        self._lock = threading.Lock()

    def add_user(self, username: str, password: str, role: Role, place: str | None = None,
                 practice: str | None = None) -> User:
        """Add a local user; a clinician needs a practice and a Place lead a Place."""
        if not USERNAME.match(username):
            raise UserError(f"username {username!r}: lower-case letters, digits, '.', '_' or '-', 2 to 64 characters")
        if role not in ROLES or role == "public":
            raise UserError(f"role {role!r}: one of {', '.join(r for r in ROLES if r != 'public')}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"password: at least {MIN_PASSWORD} characters")
        if (role == "clinician") != bool(practice) or (role == "place_lead") != bool(place):
            raise UserError("a clinician needs a practice, a Place lead a Place, and no other role either")
        if self.store.run("SELECT 1 FROM web_users WHERE username = ?", (username,)):
            raise UserError(f"username {username!r} is taken")
        self.store.run("INSERT INTO web_users VALUES (?, ?, ?, ?, ?, ?)",
                       (username, self._hasher.hash(password), role, place, practice, _now()))
        return User(username, role, place, practice)

    def user(self, username: str) -> User | None:
        """A user by name."""
        got = self.store.run("SELECT username, role, place, practice FROM web_users WHERE username = ?", (username,))
        return User(*got[0]) if got else None

    def users(self) -> list[User]:
        """Every user, by name."""
        return [User(*r) for r in self.store.run("SELECT username, role, place, practice FROM web_users "
                                                 "ORDER BY username")]

    def check_password(self, username: str, password: str) -> User | None:
        """The user if the password is theirs; an unknown name costs the same time as a wrong password."""
        got = self.store.run("SELECT password_hash FROM web_users WHERE username = ?", (username,))
        try:
            self._hasher.verify(got[0][0] if got else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        return self.user(username) if got else None

    def start_session(self, user: User) -> tuple[str, str]:
        """A new session for the user: the cookie's token and the session's CSRF token."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = _now() + SESSION_LENGTH
        self.store.run("INSERT INTO web_sessions VALUES (?, ?, ?, ?)", (_digest(token), user.username, csrf, expires))
        with self._lock:
            self._sessions[_digest(token)] = (user, csrf, expires)
        return token, csrf

    def session(self, token: str) -> tuple[User, str] | None:
        """The user and CSRF token of a live session, or None (unknown, ended or expired)."""
        key = _digest(token)
        with self._lock:
            cached = self._sessions.get(key)
        if cached is None:
            got = self.store.run("SELECT username, csrf, expires_at FROM web_sessions WHERE session_hash = ?", (key,))
            user = self.user(got[0][0]) if got else None
            if user is None:
                return None
            cached = (user, got[0][1], got[0][2])
            with self._lock:
                self._sessions[key] = cached
        user, csrf, expires = cached
        return (user, csrf) if expires > _now() else None

    def end_session(self, token: str) -> None:
        """End a session (logout)."""
        key = _digest(token)
        self.store.run("DELETE FROM web_sessions WHERE session_hash = ?", (key,))
        with self._lock:
            self._sessions.pop(key, None)

    def issue_token(self, username: str, label: str) -> str:
        """A new API token for a user (shown once; only its hash is kept)."""
        if self.user(username) is None:
            raise UserError(f"no user {username!r}")
        token = "pw_" + secrets.token_urlsafe(32)
        self.store.run("INSERT INTO web_tokens VALUES (?, ?, ?, ?)", (_digest(token), username, label, _now()))
        return token

    def token_user(self, token: str) -> User | None:
        """The user an API token belongs to, or None."""
        key = _digest(token)
        with self._lock:
            if key in self._tokens:
                return self._tokens[key]
        got = self.store.run("SELECT username FROM web_tokens WHERE token_hash = ?", (key,))
        user = self.user(got[0][0]) if got else None
        if user is not None:
            with self._lock:
                self._tokens[key] = user
        return user
