"""Reading secrets from AWS Secrets Manager."""

from __future__ import annotations

import asyncio
import json
import logging

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from rebrowse.automation.parameters import AwsSecret
from rebrowse.errors import SecretUnavailable
from rebrowse.secrets.totp import totp_code


def aws_label(secret_name: str, region_name: str) -> str:
    """How errors name an AWS secret (its name and region, never its value)."""
    return f"AWS Secrets Manager secret {secret_name!r} in {region_name}"


async def fetch_aws_secret_string(secret_name: str, region_name: str, endpoint_url: str | None = None) -> str:
    """The SecretString of a secret; credentials come from boto3's usual chain."""
    return await asyncio.to_thread(_get_secret_string, secret_name, region_name, endpoint_url)


class _DropResponseBodies(logging.Filter):
    """botocore logs every response body at DEBUG; a GetSecretValue body is the secret itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Response body")


_RESPONSE_BODY_FILTER = _DropResponseBodies()


def _get_secret_string(secret_name: str, region_name: str, endpoint_url: str | None) -> str:
    label = aws_label(secret_name, region_name)
    # Added once (a logger keeps one copy of a filter), at the first read rather than at import.
    logging.getLogger("botocore.parsers").addFilter(_RESPONSE_BODY_FILTER)
    # A session per call: boto3's default session is not safe to share between threads.
    session = boto3.session.Session()
    try:
        client = session.client("secretsmanager", region_name=region_name, endpoint_url=endpoint_url)
        response = client.get_secret_value(SecretId=secret_name)
    except (BotoCoreError, ClientError) as error:
        # A GetSecretValue failure never carries the value, so the service's text is safe and useful.
        raise SecretUnavailable(f"{label}: {error}") from None
    if "SecretString" not in response:
        raise SecretUnavailable(f"{label}: the secret has no string value")
    return response["SecretString"]


def aws_secret_field(secret: AwsSecret, secret_string: str) -> str:
    """The part of the secret a parameter names: the whole secret, or its `key` field."""
    if secret.key is None:
        return secret_string
    return _json_field(secret_string, secret.key, aws_label(secret.secret_name, secret.region_name))


def aws_secret_value(secret: AwsSecret, field: str) -> str:
    """The value a parameter asks for: the field itself, or a TOTP code from the seed it holds."""
    if secret.type == "totp_secret":
        assert secret.digits is not None  # the model requires digits for totp_secret
        return totp_code(field, secret.digits, source=aws_label(secret.secret_name, secret.region_name))
    return field


def _json_field(secret_string: str, key: str, label: str) -> str:
    try:
        document = json.loads(secret_string)
    except ValueError:
        # The decode error holds the whole document, so it must not be chained.
        raise SecretUnavailable(f"{label}: the secret is not JSON, so key {key!r} cannot be read") from None
    if not isinstance(document, dict):
        raise SecretUnavailable(f"{label}: the secret is not a JSON object, so key {key!r} cannot be read")
    if key not in document:
        raise SecretUnavailable(f"{label}: the secret has no key {key!r}")
    field = document[key]
    if isinstance(field, str):
        return field
    if isinstance(field, int | float) and not isinstance(field, bool):
        return str(field)
    raise SecretUnavailable(f"{label}: key {key!r} holds neither a string nor a number")
