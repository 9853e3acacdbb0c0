"""The web application: ``create_app(db_url)`` builds it; ``placewise serve`` runs it with uvicorn.

Every request passes :func:`authorise`: the caller is found (API token, session cookie or nobody),
the endpoint's declared roles are checked (an endpoint without a declaration is refused), a
state-changing request on a session must carry the session's CSRF token, and every refusal is
audited. Errors are JSON: ``{"error": "...", "status": N}`` (and ``fields`` for invalid parameters).
"""

from __future__ import annotations

import json
import copy
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from placewise import __version__
from placewise.profile import Profile, load_profile
from placewise.publish.web import audit, snapshot
from placewise.publish.web.cards import ModelFiles, read_model
from placewise.publish.web.auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Auth
from placewise.publish.web.roles import ANONYMOUS, User, allowed_roles
from placewise.publish.web.store import WebStore, default_store_url

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class WebState:
    """What every request reads: the warehouse's URL, its snapshot, the users and the audit."""

    warehouse: snapshot.Warehouse
    snapshot: snapshot.Snapshot
    auth: Auth
    secure_cookies: bool
    models: tuple[ModelFiles, ...] = ()
    _reloading: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reload(self) -> bool:
        """Read the warehouse again if its measurements changed since the snapshot was made, and swap the new
        snapshot in whole (a request already under way keeps the one it started with); whether it changed."""
        with self._reloading:
            if snapshot.version(self.db_url) == self.snapshot.version:
                return False
            fresh = copy.copy(self)
            fresh.snapshot = snapshot.load(self.db_url, self.snapshot.profile, self.store)
            warm(fresh)
            self.snapshot = fresh.snapshot
            return True

    @property
    def db_url(self) -> str:
        """The warehouse's URL."""
        return self.warehouse.url

    @property
    def store(self) -> WebStore:
        """The web store (users, sessions, tokens, audit)."""
        return self.auth.store


class Refused(HTTPException):
    """A request refused for who is asking (401 or 403); audited before it is raised."""


def state(request: Request) -> WebState:
    """The application's state as this request sees it: the snapshot it started with, for the whole request."""
    mine = getattr(request.state, "web", None)
    if mine is None:
        mine = request.state.web = copy.copy(request.app.state.web)
    return mine


def refuse(request: Request, user: User, status: int, why: str) -> Refused:
    """Audit a refusal and return the exception to raise."""
    audit.record(state(request).store, user, "refused", f"{request.method} {request.url.path}", f"refused {status}",
                 why)
    return Refused(status, why)


def current_user(request: Request) -> User:
    """Who is calling: the owner of a bearer token, of a session cookie, or the public."""
    web = state(request)
    request.state.csrf = None
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        user = web.auth.token_user(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise refuse(request, ANONYMOUS, 401, "the Authorization header does not carry a valid API token")
        request.state.by_token = True
        return user
    request.state.by_token = False
    cookie = request.cookies.get(SESSION_COOKIE)
    found = web.auth.session(cookie) if cookie else None
    if found is None:
        return ANONYMOUS
    request.state.csrf = found[1]
    return found[0]


async def authorise(request: Request, user: User = Depends(current_user)) -> User:
    """Admit the request if the endpoint declares the caller's role; check origin and CSRF on changes.

    A login needs no CSRF token (it starts a new session; a foreign origin is still refused)."""
    route = request.scope.get("route")
    roles = allowed_roles(route.endpoint) if route is not None else None
    if roles is None:
        raise refuse(request, user, 403, "this endpoint declares no roles, so it is refused to everyone")
    if request.method not in SAFE_METHODS:
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.url.netloc:
            raise refuse(request, user, 403, f"cross-origin request from {origin} refused")
        if request.state.csrf is not None and route is not None and route.name != "login" \
                and not await _csrf_ok(request):
            raise refuse(request, user, 403, f"missing or wrong CSRF token: send the session's token in the "
                                             f"{CSRF_HEADER} header or a {CSRF_FIELD} form field")
    if user.role not in roles:
        if user is ANONYMOUS:
            raise refuse(request, user, 401, "log in (or send an API token) to use this endpoint")
        raise refuse(request, user, 403, f"the {user.role} role may not use this endpoint")
    request.state.user = user
    return user


async def _csrf_ok(request: Request) -> bool:
    """Whether a session request echoes its CSRF token (header, or form field of a form post)."""
    sent: object = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(CSRF_FIELD)
    return isinstance(sent, str) and secrets.compare_digest(sent, request.state.csrf)


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    """A JSON error body."""
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


def _install_errors(app: FastAPI) -> None:
    """Every error as JSON with a clear message (a page's refusal or 404 as a page)."""
    from placewise.publish.web import pages

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> Response:
        message = e.detail if isinstance(e.detail, str) else str(e.detail)
        if pages.is_page(request) and e.status_code in (401, 403, 404):
            return pages.error_page(request, e.status_code, message)
        if e.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.url.path}"
        if e.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return _error(e.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        fields = [{"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]} for err in e.errors()]
        summary = "; ".join(f"{f['field']}: {f['problem']}" for f in fields)
        return _error(422, f"invalid request: {summary}", fields=fields)


class Error(BaseModel):
    """Every error the application returns: a message that says what is wrong, and the HTTP status."""

    error: str
    status: int
    fields: list[dict[str, str]] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Error, "description": text} for code, text in (
        (401, "Not logged in, or an invalid API token"), (403, "The caller's role or area may not do this"),
        (404, "No such indicator, worklist or user"), (409, "Not available on this server"),
        (422, "Invalid parameters or body: each field and what is wrong with it"))}
"""The error responses every operation documents."""


def application() -> FastAPI:
    """The application's routes, access control and error handling, without a warehouse (state is attached
    by :func:`create_app`); its OpenAPI document is :func:`openapi_document`."""
    from placewise.publish.web import api, pages

    app = FastAPI(title="Placewise", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json", dependencies=[Depends(authorise)], responses=ERRORS,
                  description="Indicators, areas, worklists and data quality of a Placewise warehouse, with "
                              "disclosure control applied by role. Errors are JSON: {\"error\", \"status\"}.")
    _install_errors(app)
    app.include_router(api.auth_router)
    app.include_router(api.router)
    pages.install(app)
    app.include_router(api.worklist_router)
    return app


def openapi_document() -> str:
    """The OpenAPI document as committed at ``docs/openapi.json`` (a test checks it is current)."""
    return json.dumps(application().openapi(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def create_app(db_url: str, *, store_url: str | None = None, profile: Profile | None = None,
               secure_cookies: bool = True, model_dir: Path | None = None) -> FastAPI:
    """The web application over a warehouse (read at start-up), with its users in ``store_url`` and the card
    and fairness panel of the risk model in ``model_dir``, if given."""
    profile = profile or load_profile()
    models = (read_model(model_dir),) if model_dir is not None else ()
    app = application()
    store = WebStore(store_url or default_store_url(db_url))
    try:
        snap = snapshot.load(db_url, profile, store)
    except BaseException:
        store.close()
        raise
    app.state.web = WebState(warehouse=snapshot.Warehouse(db_url), snapshot=snap, auth=Auth(store),
                             secure_cookies=secure_cookies, models=models)
    warm(app.state.web)
    return app


def warm(web: WebState) -> None:
    """Make at start-up (and on a reload, before it is served) what first requests would otherwise wait for."""
    from placewise.publish.web import api

    api.warm(web)
