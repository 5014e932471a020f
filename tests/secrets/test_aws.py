"""AWS Secrets Manager parameters against moto's server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import boto3
import pyotp
import pytest
from moto.server import ThreadedMotoServer
from mypy_boto3_secretsmanager import SecretsManagerClient

from rebrowse.automation.parameters import SecureParameter
from rebrowse.errors import SecretUnavailable
from rebrowse.secrets.resolver import SecretResolver

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def dummy_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # No config or credentials file of the machine may take part.
    empty = tmp_path_factory.mktemp("aws") / "empty"
    empty.touch()
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))


@pytest.fixture
def client(endpoint_url: str) -> SecretsManagerClient:
    return boto3.session.Session().client("secretsmanager", region_name=REGION, endpoint_url=endpoint_url)


def create_secret(client: SecretsManagerClient, value: str) -> str:
    name = f"rebrowse/test/{uuid.uuid4().hex}"
    client.create_secret(Name=name, SecretString=value)
    return name


def aws_param(name: str, **extra: object) -> SecureParameter:
    source = {"secret_name": name, "region_name": REGION, **extra}
    return SecureParameter.model_validate({"amazon_secrets_manager": source})


async def test_plain_secret_is_read_and_redacted(client: SecretsManagerClient, endpoint_url: str) -> None:
    name = create_secret(client, "s3cret-Passw0rd")
    resolver = SecretResolver(aws_endpoint_url=endpoint_url)
    assert await resolver.resolve(aws_param(name)) == "s3cret-Passw0rd"
    assert resolver.redactor.redact_text("pw=s3cret-Passw0rd;") == "pw=***;"


async def test_key_plucks_one_field_of_a_json_secret(client: SecretsManagerClient, endpoint_url: str) -> None:
    name = create_secret(client, json.dumps({"username": "alice", "password": "hunter2-long", "pin": 4711}))
    resolver = SecretResolver(aws_endpoint_url=endpoint_url)
    assert await resolver.resolve(aws_param(name, key="password")) == "hunter2-long"
    assert await resolver.resolve(aws_param(name, key="pin")) == "4711"
    assert await resolver.resolve(aws_param(name, key="username")) == "alice"


async def test_totp_secret_gives_the_seeds_code(client: SecretsManagerClient, endpoint_url: str) -> None:
    seed = pyotp.random_base32()
    name = create_secret(client, json.dumps({"totp": seed}))
    resolver = SecretResolver(aws_endpoint_url=endpoint_url)
    code = await resolver.resolve(aws_param(name, key="totp", type="totp_secret", digits=6))
    assert len(code) == 6
    assert pyotp.TOTP(seed).verify(code, valid_window=1)
    assert resolver.redactor.redact_text(f"{code} {seed}") == "*** ***"


async def test_secret_is_fetched_once_per_resolver(client: SecretsManagerClient, endpoint_url: str) -> None:
    name = create_secret(client, "first-value")
    resolver = SecretResolver(aws_endpoint_url=endpoint_url)
    assert await resolver.resolve(aws_param(name)) == "first-value"
    client.put_secret_value(SecretId=name, SecretString="second-value")
    assert await resolver.resolve(aws_param(name)) == "first-value"
    assert await SecretResolver(aws_endpoint_url=endpoint_url).resolve(aws_param(name)) == "second-value"


async def test_endpoint_from_the_environment_is_honoured(
    client: SecretsManagerClient, endpoint_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = create_secret(client, "via-environment")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    assert await SecretResolver().resolve(aws_param(name)) == "via-environment"


async def test_missing_secret_is_unavailable_by_name(endpoint_url: str) -> None:
    with pytest.raises(SecretUnavailable, match="'rebrowse/test/absent' in eu-west-1") as caught:
        await SecretResolver(aws_endpoint_url=endpoint_url).resolve(aws_param("rebrowse/test/absent"))
    assert "ResourceNotFoundException" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_missing_key_does_not_show_the_secret(client: SecretsManagerClient, endpoint_url: str) -> None:
    name = create_secret(client, json.dumps({"password": "do-not-show-me"}))
    with pytest.raises(SecretUnavailable, match="has no key 'passwd'") as caught:
        await SecretResolver(aws_endpoint_url=endpoint_url).resolve(aws_param(name, key="passwd"))
    assert "do-not-show-me" not in str(caught.value)


async def test_key_of_a_non_json_secret_hides_the_decode_error(client: SecretsManagerClient, endpoint_url: str) -> None:
    name = create_secret(client, "plain-secret-not-json")
    with pytest.raises(SecretUnavailable, match="is not JSON") as caught:
        await SecretResolver(aws_endpoint_url=endpoint_url).resolve(aws_param(name, key="password"))
    assert "plain-secret-not-json" not in str(caught.value)
    # The JSON decode error carries the whole document, so it must not travel along.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_unreachable_endpoint_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    resolver = SecretResolver(aws_endpoint_url=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(SecretUnavailable, match="'any' in eu-west-1: Could not connect"):
        await resolver.resolve(aws_param("any"))
