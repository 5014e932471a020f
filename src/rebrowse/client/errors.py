"""Errors of the Python SDK.

* RebrowseError             the root (`rebrowse.RebrowseError`): catches every error below
  - RebrowseAPIError         the API answered with an error (status_code, message, field errors)
    + InvalidRequestError    400 or 422: the request or the automation is invalid
    + AuthenticationError    401: no API key, or not a valid one
    + NotFoundError          404: no such task or automation in your account
    + ConflictError          409: the task is not in a state that allows this
  - APIConnectionError       the API could not be reached (url; httpx's exception is the __cause__)
    + APITimeoutError        it did not answer in time (also a TimeoutError)
  - MissingAPIKey            no api_key= and no REBROWSE_API_KEY (also a ValueError)
  - WaitTimeout              a task did not end before the deadline (also a TimeoutError)
"""

from __future__ import annotations

from rebrowse.errors import FieldError, RebrowseError


class RebrowseAPIError(RebrowseError):
    """The API answered with an error."""

    def __init__(self, status_code: int, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.errors = errors or []


class InvalidRequestError(RebrowseAPIError):
    """The request or the automation is invalid (400, 422)."""


class AuthenticationError(RebrowseAPIError):
    """The API key is missing, unknown or revoked (401)."""


class NotFoundError(RebrowseAPIError):
    """No such task or automation in your account (404)."""


class ConflictError(RebrowseAPIError):
    """The task is not in a state that allows this (409)."""


class APIConnectionError(RebrowseError):
    """The API could not be reached: refused, reset, unresolvable, or no answer in time."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the API at {url}: {reason}")
        self.url = url


class APITimeoutError(APIConnectionError, TimeoutError):
    """The API did not answer in time (a submission may still have been queued: look for it before retrying)."""


class MissingAPIKey(RebrowseError, ValueError):
    """No API key was given."""


class WaitTimeout(RebrowseError, TimeoutError):
    """The task did not end before the deadline."""

    def __init__(self, task_id: str, status: str) -> None:
        super().__init__(f"task {task_id} is still {status}")
        self.task_id = task_id
        self.status = status


ERRORS_BY_STATUS: dict[int, type[RebrowseAPIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
}


def error_for(status_code: int, message: str, errors: list[FieldError] | None = None) -> RebrowseAPIError:
    """The typed error for an HTTP error status."""
    return ERRORS_BY_STATUS.get(status_code, RebrowseAPIError)(status_code, message, errors)
