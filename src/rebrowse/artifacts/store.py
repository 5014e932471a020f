"""The ArtifactStore: where a task's files live once its run ends, and how they are read, listed and deleted.

During a run the engine writes into a local working directory (Playwright saves screenshots and downloads to
files); `keep` makes that directory the task's stored artifacts. The local store's working directory is the
stored directory itself (nothing to copy); the S3 store uploads it and removes the local copy. Every read is by
a validated name (layout.checked_name) under the task's id, so no request reaches another task's files.
"""

from __future__ import annotations

import asyncio
import mimetypes
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rebrowse.artifacts.layout import UnsafeName, checked_name, make_private_directory
from rebrowse.settings import ServerSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

CHUNK_BYTES = 256 * 1024
DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


@dataclass(frozen=True)
class StoredFile:
    """A stored artifact, found: a local file, a short-lived URL to send the client to, or a body to stream."""

    size: int | None
    path: Path | None = None
    url: str | None = None
    chunks: Callable[[], AsyncIterator[bytes]] | None = None


class ArtifactStore(ABC):
    """Where tasks' files live; every method takes the task's id and names checked against the layout."""

    @abstractmethod
    def working_dir(self, task_id: uuid.UUID) -> Path:
        """The local directory the task's run writes into (created, the owner's alone)."""

    @abstractmethod
    async def keep(self, task_id: uuid.UUID) -> None:
        """Make what the run wrote into its working directory the task's stored artifacts."""

    @abstractmethod
    async def publish(self, task_id: uuid.UUID, names: Sequence[str]) -> None:
        """While the run goes on, make these files of its working directory readable already (the step records
        and their screenshots, for a live timeline); names missing or not valid are skipped."""

    @abstractmethod
    async def find(self, task_id: uuid.UUID, name: str) -> StoredFile | None:
        """The stored file `name` of the task, ready to serve; None when there is none."""

    @abstractmethod
    async def read(self, task_id: uuid.UUID, name: str) -> bytes | None:
        """The bytes of the task's file `name`; None when there is none."""

    @abstractmethod
    async def task_ids(self) -> list[uuid.UUID]:
        """The tasks that have stored files."""

    @abstractmethod
    async def delete(self, task_id: uuid.UUID) -> None:
        """Remove every file of the task (nothing happens when it has none)."""


def valid_name(name: str) -> str | None:
    try:
        return checked_name(name)
    except UnsafeName:
        return None


def files_below(directory: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) of every regular file below `directory` whose relative path is a valid artifact name;
    symbolic links are left out, so an upload cannot carry a file from elsewhere on the worker."""
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        name = valid_name(path.relative_to(directory).as_posix())
        if name is not None:
            yield name, path


class LocalArtifactStore(ArtifactStore):
    """Artifacts in a directory, one folder per task (shared by API and workers when they are on one machine)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _task_dir(self, task_id: uuid.UUID) -> Path:
        return self.root / str(task_id)

    def working_dir(self, task_id: uuid.UUID) -> Path:
        make_private_directory(self.root)
        directory = self._task_dir(task_id)
        make_private_directory(directory)
        return directory

    async def keep(self, task_id: uuid.UUID) -> None:
        """Nothing to do: the run wrote straight into the stored directory."""

    async def publish(self, task_id: uuid.UUID, names: Sequence[str]) -> None:
        """Nothing to do: the files are read where the run writes them."""

    def _path(self, task_id: uuid.UUID, name: str) -> Path | None:
        """The file when `name` is valid and resolves (symbolic links followed) to a file inside the task's folder."""
        if valid_name(name) is None:
            return None
        directory = self._task_dir(task_id).resolve()
        resolved = (directory / name).resolve()
        return resolved if resolved.is_relative_to(directory) and resolved.is_file() else None

    async def find(self, task_id: uuid.UUID, name: str) -> StoredFile | None:
        path = self._path(task_id, name)
        return StoredFile(size=path.stat().st_size, path=path) if path is not None else None

    async def read(self, task_id: uuid.UUID, name: str) -> bytes | None:
        path = self._path(task_id, name)
        if path is None:
            return None
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def task_ids(self) -> list[uuid.UUID]:
        if not self.root.is_dir():
            return []
        return [task_id for entry in self.root.iterdir() if entry.is_dir() and (task_id := as_uuid(entry.name))]

    async def delete(self, task_id: uuid.UUID) -> None:
        await asyncio.to_thread(shutil.rmtree, self._task_dir(task_id), ignore_errors=True)


class S3ArtifactStore(ArtifactStore):
    """Artifacts as objects `prefix/<task id>/<name>` in an S3-compatible bucket (AWS S3, MinIO, R2 ...); runs
    write into a scratch directory that `keep` uploads and removes."""

    def __init__(
        self, client: S3Client, bucket: str, prefix: str, scratch: Path, *, presigned_ttl_s: float | None = None
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.scratch = scratch
        self.presigned_ttl_s = presigned_ttl_s  # None: the API streams the object itself

    def _task_prefix(self, task_id: uuid.UUID) -> str:
        return f"{self.prefix}/{task_id}/" if self.prefix else f"{task_id}/"

    def working_dir(self, task_id: uuid.UUID) -> Path:
        make_private_directory(self.scratch)
        directory = self.scratch / str(task_id)
        make_private_directory(directory)
        return directory

    async def keep(self, task_id: uuid.UUID) -> None:
        directory = self.scratch / str(task_id)
        if not directory.is_dir():
            return
        for name, path in files_below(directory):
            await asyncio.to_thread(self._upload, self._task_prefix(task_id) + name, path)
        await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)

    async def publish(self, task_id: uuid.UUID, names: Sequence[str]) -> None:
        directory = self.scratch / str(task_id)
        for name in names:
            checked = valid_name(name)
            path = directory / checked if checked is not None else None
            if path is not None and path.is_file() and not path.is_symlink():
                await asyncio.to_thread(self._upload, self._task_prefix(task_id) + name, path)

    def _upload(self, key: str, path: Path) -> None:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})

    def _key(self, task_id: uuid.UUID, name: str) -> str | None:
        checked = valid_name(name)
        return self._task_prefix(task_id) + checked if checked is not None else None

    async def find(self, task_id: uuid.UUID, name: str) -> StoredFile | None:
        key = self._key(task_id, name)
        if key is None:
            return None
        if self.presigned_ttl_s is None:
            found = await asyncio.to_thread(self._get, key)
            if found is None:
                return None
            return StoredFile(size=found["ContentLength"], chunks=lambda: stream_body(found["Body"]))
        head = await asyncio.to_thread(self._head, key)
        if head is None:
            return None
        url = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=max(1, int(self.presigned_ttl_s)),
        )
        return StoredFile(size=head["ContentLength"], url=url)

    def _get(self, key: str) -> Any:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None

    def _head(self, key: str) -> Any:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    async def read(self, task_id: uuid.UUID, name: str) -> bytes | None:
        key = self._key(task_id, name)
        if key is None:
            return None
        found = await asyncio.to_thread(self._get, key)
        if found is None:
            return None
        data: bytes = await asyncio.to_thread(found["Body"].read)
        return data

    async def task_ids(self) -> list[uuid.UUID]:
        return await asyncio.to_thread(self._task_ids)

    def _task_ids(self) -> list[uuid.UUID]:
        top = f"{self.prefix}/" if self.prefix else ""
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=top, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                task_id = as_uuid(common.get("Prefix", "")[len(top) :].rstrip("/"))
                if task_id is not None:
                    found.append(task_id)
        return found

    async def delete(self, task_id: uuid.UUID) -> None:
        await asyncio.to_thread(self._delete, self._task_prefix(task_id))

    def _delete(self, prefix: str) -> None:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": item["Key"]} for item in page.get("Contents", []) if "Key" in item
            ]
            for start in range(0, len(keys), DELETE_BATCH):
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys[start : start + DELETE_BATCH], "Quiet": True}
                )


async def stream_body(body: Any) -> AsyncIterator[bytes]:
    """The object's bytes chunk by chunk, read off the event loop; the connection is closed however it ends."""
    try:
        while chunk := await asyncio.to_thread(body.read, CHUNK_BYTES):
            yield chunk
    finally:
        body.close()


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def artifact_store(settings: ServerSettings) -> ArtifactStore:
    """The store the settings name: S3 when REBROWSE_ARTIFACTS_URL is set, else the local artifacts directory."""
    if settings.artifacts_bucket is None:
        return LocalArtifactStore(settings.artifacts)
    import boto3  # only servers that store in S3 need it
    from botocore.config import Config

    # Endpoints other than AWS's (MinIO, R2, moto) are addressed by path: their buckets are no DNS names. Presigned
    # URLs use Signature Version 4, the only one every AWS region and R2 accept.
    path_style = Config(s3={"addressing_style": "path"}) if settings.engine.aws_endpoint_url else Config()
    config = Config(signature_version="s3v4").merge(path_style)
    client = boto3.session.Session().client("s3", endpoint_url=settings.engine.aws_endpoint_url, config=config)
    return S3ArtifactStore(
        client,
        settings.artifacts_bucket,
        settings.artifacts_prefix,
        settings.data_dir / "work",
        presigned_ttl_s=settings.artifacts_presigned_ttl_s if settings.artifacts_presigned else None,
    )
