"""Automation parameters: input values, secure parameters (secret references) and generated variables."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from rebrowse.automation.base import StrictModel

ParameterValue = str | int | float | bool


class StoredSecret(StrictModel):
    """A secret kept in a vault: its value is used as it is, or (totp_secret) as the seed of a TOTP code."""

    type: Literal["raw", "totp_secret"] = "raw"
    digits: int | None = None

    @model_validator(mode="after")
    def _digits_only_for_totp(self) -> Self:
        if self.type == "totp_secret" and self.digits is None:
            raise ValueError("digits is required when type is totp_secret")
        if self.type == "raw" and self.digits is not None:
            raise ValueError("digits is only allowed when type is totp_secret")
        return self


class OnePasswordSecret(StoredSecret):
    """A field of a 1Password item, read with a service account token."""

    vault_name: str
    item_name: str
    field_name: str


class AwsSecret(StoredSecret):
    """A secret in AWS Secrets Manager; `key` picks one field of a JSON secret."""

    secret_name: str
    region_name: str
    key: str | None = None


class TotpSecret(StrictModel):
    """A TOTP seed given directly; the code is generated when the node runs."""

    totp_secret: str
    digits: int = 6


class SecureParameter(StrictModel):
    """One secret value, from exactly one source."""

    onepassword: OnePasswordSecret | None = None
    amazon_secrets_manager: AwsSecret | None = None
    totp: TotpSecret | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        given = [s for s in (self.onepassword, self.amazon_secrets_manager, self.totp) if s is not None]
        if len(given) != 1:
            raise ValueError("exactly one of onepassword, amazon_secrets_manager, totp must be set")
        return self


class Parameters(StrictModel):
    """The parameters an automation declares; every value is a list and `{name[i]}` picks element i."""

    input_parameters: dict[str, list[ParameterValue]] = Field(default_factory=dict)
    """Values a run may replace (`-p name=value`, the request's `input_parameters`); these are the defaults."""
    secure_parameters: dict[str, list[SecureParameter]] = Field(default_factory=dict)
    """Secrets, as references to where each value is kept; never logged or shown."""
    generated_parameters: dict[str, list[ParameterValue | None]] = Field(default_factory=dict)
    """Variables the automation's steps fill in, declared with their starting values."""

    @model_validator(mode="after")
    def _names_are_identifiers(self) -> Self:
        for group in (self.input_parameters, self.secure_parameters, self.generated_parameters):
            for name in group:
                if not name.isidentifier():
                    raise ValueError(f"parameter name {name!r} is not a valid identifier")
        return self
