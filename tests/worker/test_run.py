"""Tasks run by real workers against the embedded PostgreSQL: outputs, serialization, priority, cancel, timeout."""

from __future__ import annotations

import json
from typing import Any

import pyotp

from rebrowse import lifecycle
from rebrowse.demo.site import SiteServer
from rebrowse.queue.app import abort
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer, generate_key
from rebrowse.store.tasks import Outcome, Task
from tests.waiting import eventually
from tests.worker.conftest import Tenant, Workers, automation_json, callback_events

PUBLIC_URL = "http://127.0.0.1:8000"
NO_LLM_USAGE = {"calls": 0, "failed_calls": 0, "input_tokens": 0, "output_tokens": 0, "requests": 0}


def overlaps(a: Task, b: Task) -> bool:
    assert a.started_at and a.completed_at and b.started_at and b.completed_at
    return a.started_at < b.completed_at and b.started_at < a.completed_at


async def test_a_task_runs_to_success_with_its_outputs_stored(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("detail", automation_json(site))
    worker = await workers.start("w1")
    task = await tenant.submit("detail", {"who": ["ada"]}, callback_url="http://127.0.0.1:9/hook")

    done = await tenant.wait_terminal(task.id)

    assert done.status == "success", done.error
    assert [entry["json_data"] for entry in done.output_data or []] == [
        {"name": "Invoice 7"},
        {"greeting": "hello ada"},
    ]
    assert done.worker_name == worker.name
    assert done.retry_count == 0
    assert done.allocated_at and done.started_at and done.completed_at
    assert done.allocated_at <= done.started_at <= done.completed_at
    assert done.steps_count >= 2
    assert done.llm_usage == NO_LLM_USAGE  # its run asked no model
    assert await callback_events(db, task.id) == 1


async def test_tasks_with_one_key_never_overlap_and_different_keys_do(
    tenant: Tenant, workers: Workers, site: SiteServer
) -> None:
    await tenant.put("slow", automation_json(site, sleep_s=1.0))
    same = [await tenant.submit("slow", {"who": ["ada"]}, unique=["who"]) for _ in range(3)]
    other = await tenant.submit("slow", {"who": ["bob"]}, unique=["who"])
    await workers.start("w1", slots=2)

    finished = [await tenant.wait_terminal(task.id) for task in [*same, other]]

    assert [task.status for task in finished] == ["success"] * 4
    ada = finished[:3]
    for i, first in enumerate(ada):
        for second in ada[i + 1 :]:
            assert not overlaps(first, second), (first, second)
    # With two slots the other login's task runs alongside one of ada's.
    assert any(overlaps(finished[3], task) for task in ada)


async def test_waiting_tasks_of_one_key_run_lower_priority_first_none_last_fifo_on_ties(
    tenant: Tenant, workers: Workers, site: SiteServer
) -> None:
    await tenant.put("quick", automation_json(site))
    priorities = [None, 5, 1, 5, None, -3]
    submitted = [await tenant.submit("quick", {"who": ["ada"]}, unique=["who"], priority=p) for p in priorities]
    await workers.start("w1", slots=2)

    finished = [await tenant.wait_terminal(task.id) for task in submitted]

    assert all(task.status == "success" for task in finished)
    order = [task.id for task in sorted(finished, key=lambda t: t.started_at or t.created_at)]
    expected = [submitted[i].id for i in (5, 2, 1, 3, 0, 4)]
    assert order == expected


async def test_a_queued_task_cancelled_never_runs(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database, sealer: Sealer
) -> None:
    await tenant.put("slow", automation_json(site, sleep_s=1.0))
    first = await tenant.submit("slow", {"who": ["ada"]}, unique=["who"])
    second = await tenant.submit("slow", {"who": ["ada"]}, unique=["who"])
    await workers.start("w1", slots=2)
    await tenant.wait_for(first.id, lambda t: t.status == "running")

    # What the API does for a queued task: end it at once; the job left behind must not run it.
    ended = await lifecycle.complete_task(
        db, sealer, second.id, Outcome("cancelled", error="Task cancelled by user"), public_url=PUBLIC_URL
    )
    assert ended is not None

    assert (await tenant.wait_terminal(first.id)).status == "success"
    third = await tenant.submit("slow", {"who": ["ada"]}, unique=["who"])
    assert (await tenant.wait_terminal(third.id)).status == "success"
    cancelled = await tenant.get(second.id)
    assert cancelled.status == "cancelled"
    assert cancelled.started_at is None and cancelled.worker_name is None


async def test_a_running_task_is_cancelled_within_two_seconds(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("long", automation_json(site, sleep_s=60))
    worker = await workers.start("w1")
    task = await tenant.submit("long", callback_url="http://127.0.0.1:9/hook")
    running = await tenant.wait_for(task.id, lambda t: t.status == "running")

    await abort(tenant.queue, running)

    cancelled = await tenant.wait_for(task.id, lambda t: t.is_terminal, timeout_s=2.0)
    assert cancelled.status == "cancelled"
    assert cancelled.error == "Task cancelled by user"
    assert cancelled.llm_usage == NO_LLM_USAGE
    assert await callback_events(db, task.id) == 1

    async def slot_is_free() -> bool:
        return not worker.state.task_running

    await eventually(slot_is_free, timeout_s=10, what="the slot being freed")
    # The slot is usable again: the next task runs in a fresh context of the same worker.
    await tenant.put("quick", automation_json(site))
    after = await tenant.submit("quick")
    assert (await tenant.wait_terminal(after.id)).status == "success"


async def test_a_task_over_its_time_limit_is_killed(tenant: Tenant, workers: Workers, site: SiteServer) -> None:
    await tenant.put("long", automation_json(site, sleep_s=60))
    await workers.start("w1")
    task = await tenant.submit("long", timeout_minutes=0.02)

    killed = await tenant.wait_terminal(task.id)

    assert killed.status == "killed"
    assert killed.error is not None and "time limit" in killed.error


def with_secret_code(site: SiteServer) -> dict[str, Any]:
    """An automation whose output quotes a secure parameter (the engine masks it)."""
    data = automation_json(site)
    data["parameters"]["secure_parameters"] = {"code": [{"totp": {"totp_secret": "JBSWY3DPEHPK3PXP"}}]}
    data["nodes"].append(
        {
            "type": "action_node",
            "misc_action": {
                "set_variable": {"name": "said", "value": "code={code[0]}", "output_variable_name": "said"}
            },
        }
    )
    return data


async def test_sealed_secure_parameters_are_opened_for_the_run_and_masked_in_outputs(
    tenant: Tenant, workers: Workers, site: SiteServer, sealer: Sealer
) -> None:
    await tenant.put("secret", with_secret_code(site))
    seed = pyotp.random_base32()
    sealed = sealer.seal_json({"code": [{"totp": {"totp_secret": seed, "digits": 8}}]})
    await workers.start("w1")

    task = await tenant.submit("secret", sealed_secure=sealed)

    done = await tenant.wait_terminal(task.id)
    assert done.status == "success", done.error
    assert [entry["json_data"] for entry in done.output_data or []][-1] == {"said": "code=***"}
    assert seed not in json.dumps(done.output_data)


async def test_an_automations_own_sealed_secret_is_typed_into_the_page(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    seed = pyotp.random_base32()
    typed = {
        "url": f"{site.url}/form.html",
        "parameters": {"secure_parameters": {"code": [{"totp": {"totp_secret": seed, "digits": 8}}]}},
        "nodes": [
            {
                "type": "action_node",
                "interaction_action": {"input_text": {"command": 'locator("#notes")', "input_text": "{code[0]}"}},
            },
            {"type": "action_node", "interaction_action": {"click_element": {"command": 'locator("#submit")'}}},
        ],
        "take_final_screenshot": False,
    }
    await tenant.put("typed", typed)
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT definition::text AS clear FROM automations")).fetchone()
    assert row is not None and seed not in row["clear"]
    await workers.start("w1")

    task = await tenant.submit("typed")

    done = await tenant.wait_terminal(task.id)
    assert done.status == "success", done.error
    totp = pyotp.TOTP(seed, digits=8)

    async def page_got_the_code() -> bool:
        sent = [submission["fields"].get("notes") for submission in site.submissions()]
        return any(isinstance(code, str) and totp.verify(code, valid_window=2) for code in sent)

    await eventually(page_got_the_code, what="the form to receive the TOTP code of the automation's own seed")


async def test_a_task_whose_secrets_cannot_be_opened_fails_without_revealing_them(
    tenant: Tenant, workers: Workers, site: SiteServer
) -> None:
    await tenant.put("secret", with_secret_code(site))
    seed = pyotp.random_base32()
    # Sealed with another deployment's key: this worker cannot open it.
    foreign = Sealer(generate_key()).seal_json({"code": [{"totp": {"totp_secret": seed}}]})
    await workers.start("w1")

    task = await tenant.submit("secret", sealed_secure=foreign)

    failed = await tenant.wait_terminal(task.id)
    assert failed.status == "failed"
    assert failed.error == "the task's secure parameters could not be opened"


async def test_a_task_whose_automation_cannot_run_here_fails_clearly(
    tenant: Tenant, workers: Workers, site: SiteServer
) -> None:
    scripted = automation_json(site)
    scripted["nodes"].append({"type": "action_node", "python_script_action": {"execution_code": "pass"}})
    await tenant.put("scripted", scripted)  # stored directly: this deployment does not allow scripts
    await workers.start("w1")

    task = await tenant.submit("scripted")

    failed = await tenant.wait_terminal(task.id)
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.startswith("automation scripted cannot run here:")
