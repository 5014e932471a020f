"""The sealed form of an automation's secure parameters: every string of them reads SEALED.

What is stored in clear, shown by the API, or left in a run's directory says which secure parameters are set,
never their values (a TOTP seed, a vault reference).
"""

from __future__ import annotations

from typing import Any

SEALED = "[sealed]"


def secure_parameters(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition's `parameters.secure_parameters`, as given."""
    parameters = definition.get("parameters")
    found = parameters.get("secure_parameters") if isinstance(parameters, dict) else None
    return dict(found) if isinstance(found, dict) else {}


def with_secure(definition: dict[str, Any], secure: dict[str, Any]) -> dict[str, Any]:
    """The definition with these secure parameters instead of its own."""
    if not secure and not secure_parameters(definition):
        return definition
    parameters = definition.get("parameters")
    return {
        **definition,
        "parameters": {**(parameters if isinstance(parameters, dict) else {}), "secure_parameters": secure},
    }


def sealed_form(value: Any) -> Any:
    """The value with every string in it replaced by SEALED."""
    if isinstance(value, str):
        return SEALED
    if isinstance(value, dict):
        return {key: sealed_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return [sealed_form(item) for item in value]
    return value


def redacted(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition as it is shown and stored in clear: its secure parameters' strings read SEALED."""
    return with_secure(definition, sealed_form(secure_parameters(definition)))
