"""The API's errors and the one place where every exception becomes an HTTP response.

* RebrowseError
  - ApiError            an error meant for the client, with its HTTP status
    + BadRequest        400: the request is malformed or its parameters are invalid
    + Unauthorized      401: no API key, or not a valid one
    + Forbidden         403: the key may not do this
    + NotFound          404: no such resource in the caller's account
    + Conflict          409: the resource is not in a state that allows this
* the database cannot be reached (psycopg's OperationalError and InterfaceError, the pool's PoolTimeout, and
  the queue's QueueError caused by one): 503 with Retry-After, never a 500

Body of every error response: `{"success": false, "error": msg, "detail": msg, "errors": [{path, message}]?}`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from psycopg_pool import PoolClosed
from pydantic import BaseModel
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rebrowse.automation.loading import error_message, json_path
from rebrowse.errors import AutomationInvalid, FieldError, RebrowseError, did_you_mean
from rebrowse.queue.app import QueueError
from rebrowse.store.database import DATABASE_DOWN

logger = logging.getLogger("rebrowse.api")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
RETRY_AFTER_S = 5  # what a client told to come back waits; the pool reconnects within that


class ApiError(RebrowseError):
    """The request failed."""

    status_code = 500

    def __init__(self, message: str | None = None, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)

    @classmethod
    def of_fields(cls, errors: Sequence[FieldError]) -> ApiError:
        """The error for these field problems, its message listing every one."""
        return cls("; ".join(str(e) for e in errors), errors)


class BadRequest(ApiError):
    """The request is not valid."""

    status_code = 400


class Unauthorized(ApiError):
    """Invalid API key."""

    status_code = 401


class Forbidden(ApiError):
    """This API key may not do that."""

    status_code = 403


class NotFound(ApiError):
    """Not found."""

    status_code = 404


class Conflict(ApiError):
    """The resource is not in a state that allows this."""

    status_code = 409


def error_response(
    status_code: int, message: str, errors: Sequence[FieldError] = (), headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON error body every failed request gets."""
    body: dict[str, Any] = {"success": False, "error": message, "detail": message}
    if errors:
        body["errors"] = [{"path": e.path, "message": e.message} for e in errors]
    return JSONResponse(body, status_code=status_code, headers=headers)


def database_down(exc: BaseException | None) -> bool:
    """Whether the exception means the database cannot be reached (directly, or through the queue).

    A closed pool is not an outage: it never comes back by itself, so trying again cannot help.
    """
    if isinstance(exc, QueueError):
        return database_down(exc.__cause__)
    return isinstance(exc, DATABASE_DOWN) and not isinstance(exc, PoolClosed)


def unavailable() -> JSONResponse:
    """503: the request may be sent again after Retry-After seconds."""
    return error_response(
        503, "the database is unavailable; try again shortly", headers={"retry-after": str(RETRY_AFTER_S)}
    )


async def api_error(_: Request, exc: Exception) -> JSONResponse:
    error = cast(ApiError, exc)
    return error_response(error.status_code, str(error), error.errors)


async def automation_invalid(_: Request, exc: Exception) -> JSONResponse:
    invalid = cast(AutomationInvalid, exc)
    return error_response(422, f"the automation is invalid: {invalid}", invalid.errors)


async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
    invalid = cast(RequestValidationError, exc)
    errors = request_field_errors(invalid, body_models(request))
    return error_response(400, "; ".join(str(e) for e in errors), errors)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown route, wrong method, unreadable body) in our shape, with their headers."""
    error = cast(HTTPException, exc)
    headers = {name.lower(): value for name, value in (error.headers or {}).items()}
    if error.status_code == 405:
        headers["allow"] = ", ".join(allowed_methods(request))
    return error_response(error.status_code, str(error.detail), headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method the request's path accepts (Starlette's Allow names only those of the first route that
    matched the path, when one path's GET and POST are separate routes)."""
    routes = request.app.router.routes
    return [
        method
        for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def request_field_errors(exc: RequestValidationError, body: list[type[BaseModel]]) -> list[FieldError]:
    """FastAPI's validation errors located in the request: one FieldError per path, messages joined; an unknown
    key of the body says which field of its object it looks like (`body`: the route's body models)."""
    by_path: dict[str, list[str]] = {}
    for detail in cast(list[ErrorDetails], exc.errors()):
        path = request_path(detail, exc.body)
        message = body_message(detail) if path == "body" else error_message(detail)
        if detail["type"] == "extra_forbidden" and detail["loc"][0] == "body":
            key, *inside = reversed(detail["loc"][1:])
            message += did_you_mean(str(key), field_names_at(body, list(reversed(inside))))
        if message not in by_path.setdefault(path, []):
            by_path[path].append(message)
    return [FieldError(path, "; ".join(messages)) for path, messages in by_path.items()]


def body_models(request: Request) -> list[type[BaseModel]]:
    """The models of the matched route's JSON body (none when it takes none)."""
    route = request.scope.get("route")
    body = route.body_field if isinstance(route, APIRoute) else None
    return [] if body is None else models_in(body.field_info.annotation)


def models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: itself, or inside Optional, list, dict, a union or Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in models_in(arg)]


def field_names_at(models: list[type[BaseModel]], loc: Sequence[str | int]) -> set[str]:
    """The field names (and aliases) of the object at `loc` of a body of one of `models`; a segment that names no
    field (a list index, a dict's key) stays in the same models."""
    for segment in loc:
        fields = [m.model_fields[segment] for m in models if isinstance(segment, str) and segment in m.model_fields]
        if fields:
            models = [inner for field in fields for inner in models_in(field.annotation)]
    return {name for m in models for field, info in m.model_fields.items() for name in (field, info.alias) if name}


def request_path(detail: ErrorDetails, body: object) -> str:
    """`input_parameters.user[0]` for the body, the parameter's name for the path, query and headers."""
    where, *loc = detail["loc"]
    if where != "body":
        return ".".join(str(part) for part in loc) or str(where)
    if detail["type"] == "json_invalid":
        return "body"
    return json_path(loc, body, missing=detail["type"] == "missing") or "body"


def body_message(detail: ErrorDetails) -> str:
    """What is wrong with the body as a whole: not JSON, or not an object."""
    if detail["type"] == "json_invalid":
        return f"not valid JSON ({(detail.get('ctx') or {}).get('error', 'cannot be decoded')})"
    if detail["type"] in ("missing", "model_attributes_type", "dict_type"):
        return "must be a JSON object, sent with the header Content-Type: application/json"
    return error_message(detail)


class UnexpectedErrors:
    """Any exception a route did not expect: the database unreachable is a 503 with Retry-After; anything else
    is logged with its traceback and answered with a plain 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late to answer: the server logs it and closes the connection
                raise
            if database_down(exc):
                logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
                await unavailable()(scope, receive, send)
                return
            logger.exception("unexpected error in %s %s", scope["method"], scope["path"])
            await error_response(500, "internal server error")(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to its HTTP response, in this one place."""
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(AutomationInvalid, automation_invalid)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(UnexpectedErrors)
