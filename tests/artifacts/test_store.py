"""The ArtifactStore contract, the same for the local directory and S3 (moto's server): a run's working directory
becomes the task's files, read back by validated names only, listed, and deleted (by the garbage collector too)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rebrowse.artifacts.collect import collect_expired
from rebrowse.artifacts.layout import UnsafeName, artifact_name, checked_name, stored_name
from rebrowse.artifacts.store import ArtifactStore, S3ArtifactStore, artifact_store
from rebrowse.settings import EngineSettings, ServerSettings
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.artifacts.conftest import S3Server
from tests.callbacks.conftest import finished_task, submitted_task

PNG = b"\x89PNG\r\n\x1a\n not really an image"
UNSAFE = ["..", ".", "../other/steps.jsonl", "/etc/passwd", "a/b/c", "downloads/../steps.jsonl", "x\x00", "", "a\\b"]


def settings_for(kind: str, data_dir: Path, endpoint: str, bucket: str, *, presigned: bool = False) -> ServerSettings:
    if kind == "local":
        return ServerSettings(data_dir=data_dir)
    return ServerSettings(
        data_dir=data_dir,
        artifacts_bucket=bucket,
        artifacts_prefix="deployment/one",
        artifacts_presigned=presigned,
        engine=EngineSettings(aws_endpoint_url=endpoint),
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, s3_server: S3Server, bucket: str) -> Iterator[ArtifactStore]:
    yield artifact_store(settings_for(request.param, tmp_path, s3_server.endpoint, bucket))


def write_run(store: ArtifactStore, task_id: uuid.UUID) -> Path:
    """What the engine leaves in a run's working directory."""
    working = store.working_dir(task_id)
    (working / "steps.jsonl").write_text('{"index": 0}\n')
    (working / "final_screenshot.png").write_bytes(PNG)
    (working / "downloads").mkdir(exist_ok=True)
    (working / "downloads" / "report 1.csv").write_text("a,b\n")
    return working


async def test_kept_files_are_read_back_by_name(store: ArtifactStore) -> None:
    task_id = uuid.uuid4()
    working = write_run(store, task_id)
    assert working.stat().st_mode & 0o777 == 0o700
    await store.keep(task_id)
    assert await store.read(task_id, "final_screenshot.png") == PNG
    assert await store.read(task_id, "downloads/report 1.csv") == b"a,b\n"
    assert await store.read(task_id, "steps.jsonl") == b'{"index": 0}\n'
    assert await store.read(task_id, "missing.png") is None
    assert await store.read(uuid.uuid4(), "final_screenshot.png") is None


async def test_a_found_file_streams_or_is_a_local_path(store: ArtifactStore) -> None:
    task_id = uuid.uuid4()
    write_run(store, task_id)
    await store.keep(task_id)
    found = await store.find(task_id, "final_screenshot.png")
    assert found is not None and found.size == len(PNG)
    if found.path is not None:
        assert found.path.read_bytes() == PNG
    else:
        assert found.chunks is not None
        assert b"".join([chunk async for chunk in found.chunks()]) == PNG
    assert await store.find(task_id, "downloads/nothing.csv") is None


@pytest.mark.parametrize("name", UNSAFE)
async def test_unsafe_names_find_nothing(store: ArtifactStore, name: str) -> None:
    task_id = uuid.uuid4()
    write_run(store, task_id)
    await store.keep(task_id)
    assert await store.find(task_id, name) is None
    assert await store.read(task_id, name) is None


async def test_listed_then_deleted(store: ArtifactStore) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    for task_id in (first, second):
        write_run(store, task_id)
        await store.keep(task_id)
    assert {first, second} <= set(await store.task_ids())
    await store.delete(first)
    assert first not in await store.task_ids() and second in await store.task_ids()
    assert await store.read(first, "final_screenshot.png") is None
    assert await store.read(second, "final_screenshot.png") == PNG
    await store.delete(first)  # nothing left: no error


async def test_a_symbolic_link_in_the_working_directory_is_never_served(store: ArtifactStore, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    task_id = uuid.uuid4()
    working = write_run(store, task_id)
    (working / "downloads" / "link.txt").symlink_to(secret)
    await store.keep(task_id)
    assert await store.read(task_id, "downloads/link.txt") is None


async def test_s3_keeps_objects_under_the_prefix_and_removes_the_working_copy(
    tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    store = artifact_store(settings_for("s3", tmp_path, s3_server.endpoint, bucket))
    assert isinstance(store, S3ArtifactStore)
    task_id = uuid.uuid4()
    working = write_run(store, task_id)
    await store.keep(task_id)
    assert not working.exists()
    listed = s3_server.client().list_objects_v2(Bucket=bucket)
    keys = sorted(item["Key"] for item in listed.get("Contents", []))
    prefix = f"deployment/one/{task_id}/"
    assert keys == [f"{prefix}downloads/report 1.csv", f"{prefix}final_screenshot.png", f"{prefix}steps.jsonl"]


async def test_s3_presigned_url_gives_the_bytes(tmp_path: Path, s3_server: S3Server, bucket: str) -> None:
    store = artifact_store(settings_for("s3", tmp_path, s3_server.endpoint, bucket, presigned=True))
    task_id = uuid.uuid4()
    write_run(store, task_id)
    await store.keep(task_id)
    found = await store.find(task_id, "final_screenshot.png")
    assert found is not None and found.url is not None and "X-Amz-Signature" in found.url
    async with httpx.AsyncClient() as client:
        assert (await client.get(found.url)).content == PNG
    assert await store.find(task_id, "nothing.png") is None


@pytest.mark.parametrize("name", UNSAFE)
def test_layout_refuses_unsafe_names(name: str) -> None:
    with pytest.raises(UnsafeName):
        checked_name(name)


def test_layout_names() -> None:
    assert artifact_name("downloads", "report 1.csv") == "downloads/report 1.csv"
    # Rows written before the store recorded the worker's absolute path: its last part is the name.
    assert stored_name("/var/lib/rebrowse/artifacts/x/final_screenshot.png") == "final_screenshot.png"
    assert stored_name("cached_automation.json") == "cached_automation.json"


async def test_the_collector_deletes_only_the_files_of_tasks_ended_long_enough_ago(
    store: ArtifactStore, db: Database, sealer: Sealer
) -> None:
    ended = await finished_task(db, sealer, None)
    running = await submitted_task(db, sealer, None)
    unknown = uuid.uuid4()  # files of another deployment sharing the bucket, or of a task this database never had
    for task_id in (ended.id, running.id, unknown):
        write_run(store, task_id)
        await store.keep(task_id)
    assert await collect_expired(db, store, retention_s=3600) == 0
    assert await collect_expired(db, store, retention_s=0.001) == 1
    assert await store.read(ended.id, "final_screenshot.png") is None
    assert await store.read(running.id, "final_screenshot.png") == PNG
    assert await store.read(unknown, "final_screenshot.png") == PNG
