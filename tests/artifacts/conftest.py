"""Object storage for the artifact tests: moto's S3 in server mode, a real HTTP server on 127.0.0.1 (a process of
the tests, stopped with its group), and a fresh bucket per test."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from mypy_boto3_s3 import S3Client

from tests.serving import stop_group
from tests.waiting import free_port

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
STARTUP_S = 30.0
# moto accepts any credentials; boto3 needs some to sign with, and a region.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self) -> S3Client:
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, config=Config(s3={"addressing_style": "path"})
        )


def wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll the server until it answers HTTP; fail when it exits or the deadline passes first."""
    deadline = time.monotonic() + STARTUP_S
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            if process.poll() is not None:
                raise AssertionError(f"moto_server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise AssertionError("moto_server did not answer in time") from None
            time.sleep(0.05)  # between polls of a condition with a deadline


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    port = free_port()
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_until_answering(endpoint, process)
        yield S3Server(endpoint)
    finally:
        stop_group(process)


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials boto3 reads from the environment, as an operator sets them."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket(s3_server: S3Server, s3_credentials: None) -> str:
    name = f"artifacts-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name
