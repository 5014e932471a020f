"""An automation over time: its written key order kept, any version shown, diffs, rollbacks, runs per day."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from rebrowse.store import automations
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import Account, automation, submit_ok
from tests.api.test_auth import assert_error

# Keys in an order that is neither alphabetical nor jsonb's (shortest first): what the author wrote must come back.
WRITTEN: dict[str, Any] = {
    "url": "http://127.0.0.1:1/login.html",
    "parameters": {
        "input_parameters": {"zeta": ["z"], "alpha": ["a"], "middle_name": ["m"]},
        "secure_parameters": {
            "zz_pass": [{"totp": {"totp_secret": "JBSWY3DPEHPK3PXP"}}],
            "aa_pin": [{"totp": {"totp_secret": "GEZDGNBVGY3TQOJQ", "digits": 8}}],
        },
    },
    "nodes": [
        {
            "interaction_action": {"click_element": {"prompt_instructions": "p", "command": 'get_by_text("Go")'}},
            "type": "action_node",
        }
    ],
}


def key_orders(value: Any) -> list[list[str]]:
    """The keys of every object in a JSON value, depth first."""
    if isinstance(value, dict):
        return [list(value), *(order for item in value.values() for order in key_orders(item))]
    if isinstance(value, list):
        return [order for item in value for order in key_orders(item)]
    return []


async def test_an_automation_comes_back_in_its_written_order(acme: Account) -> None:
    saved = await acme.client.put("/api/v1/automations/ordered", json={"automation": WRITTEN})
    assert saved.status_code == 200, saved.text
    assert saved.json()["parameters"]["input_parameters"] == ["zeta", "alpha", "middle_name"]
    assert saved.json()["parameters"]["secure_parameters"] == ["zz_pass", "aa_pin"]
    shown = (await acme.client.get("/api/v1/automations/ordered")).json()
    one = (await acme.client.get("/api/v1/automations/ordered/versions/1")).json()
    for definition in (shown["automation"], one["automation"]):
        assert key_orders(definition) == key_orders(WRITTEN)
        assert definition["parameters"]["secure_parameters"]["zz_pass"] == [{"totp": {"totp_secret": "[sealed]"}}]


SEED_1, SEED_2 = "GEZDGNBVGY3TQOJQ", "JBSWY3DPEHPK3PXP"


def with_seed(seed: str, url: str) -> dict[str, Any]:
    parameters = {
        "input_parameters": {"username": ["ada"]},
        "secure_parameters": {"otp": [{"totp": {"totp_secret": seed}}]},
    }
    return automation(url=url, parameters=parameters)


async def put(account: Account, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await account.client.put(f"/api/v1/automations/{name}", json=body)
    assert response.status_code == 200, response.text
    saved: dict[str, Any] = response.json()
    return saved


async def test_versions_diff_and_rollback(acme: Account, db: Database, sealer: Sealer) -> None:
    await put(acme, "portal", {"automation": with_seed(SEED_1, "http://127.0.0.1:1/a.html"), "description": "first"})
    second = {"automation": with_seed(SEED_2, "http://127.0.0.1:1/b.html"), "settings": {"reuse_session": True}}
    await put(acme, "portal", {**second, "description": "second"})

    one = (await acme.client.get("/api/v1/automations/portal/versions/1")).json()
    assert (one["version"], one["description"], one["automation"]["url"]) == (1, "first", "http://127.0.0.1:1/a.html")
    assert SEED_1 not in str(one)

    diff = (
        await acme.client.get("/api/v1/automations/portal/diff", params={"from_version": 1, "to_version": 2})
    ).json()
    assert diff["diff"].startswith("--- portal v1\n+++ portal v2\n")
    assert '-  "url": "http://127.0.0.1:1/a.html",\n+  "url": "http://127.0.0.1:1/b.html",\n' in diff["diff"]
    assert SEED_1 not in diff["diff"] and SEED_2 not in diff["diff"]
    assert diff["changes"] == [
        {"field": "description", "before": "first", "after": "second"},
        {"field": "settings.reuse_session", "before": False, "after": True},
    ]
    assert diff["secure_values_changed"] is True

    rolled = await acme.client.post("/api/v1/automations/portal/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert (rolled.json()["version"], rolled.json()["description"]) == (3, "Rolled back to version 1")
    assert rolled.json()["settings"]["reuse_session"] is False
    async with db.connection() as conn:
        stored = await automations.get_automation(conn, acme.id, "portal")
    assert stored is not None and stored.version == 3
    assert automations.stored_secrets(stored, sealer) == {"otp": [{"totp": {"totp_secret": SEED_1}}]}

    same = (await acme.client.get("/api/v1/automations/portal/diff?from_version=1&to_version=3")).json()
    assert same["diff"] == "" and same["secure_values_changed"] is False
    assert [change["field"] for change in same["changes"]] == ["description"]
    versions = (await acme.client.get("/api/v1/automations/portal")).json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("GET", "/versions/9", None, 404, ["version", "no version 9"]),
        ("GET", "/versions/0", None, 400, ["version"]),
        ("GET", "/diff?from_version=1", None, 400, ["to_version"]),
        ("GET", "/diff?from_version=x&to_version=1", None, 400, ["from_version"]),
        ("GET", "/diff?from_version=1&to_version=9", None, 400, ["to_version", "no version 9"]),
        ("POST", "/rollback", {"version": 9}, 404, ["version", "no version 9"]),
        ("POST", "/rollback", {"version": "one"}, 400, ["version"]),
        ("POST", "/rollback", {}, 400, ["version"]),
        ("GET", "/runs?days=0", None, 400, ["days"]),
    ],
)
async def test_bad_versions_are_named(
    acme: Account, login: str, method: str, path: str, body: Any, status: int, words: list[str]
) -> None:
    response = await acme.client.request(method, f"/api/v1/automations/{login}{path}", json=body)
    assert_error(response, status, *words)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/versions/1", None),
        ("GET", "/diff?from_version=1&to_version=1", None),
        ("POST", "/rollback", {"version": 1}),
        ("GET", "/runs", None),
    ],
)
async def test_another_accounts_or_a_deleted_automation_is_not_found(
    acme: Account, other: Account, login: str, method: str, path: str, body: Any
) -> None:
    assert_error(await other.client.request(method, f"/api/v1/automations/{login}{path}", json=body), 404, login)
    assert (await acme.client.request(method, f"/api/v1/automations/{login}{path}", json=body)).is_success
    assert (await acme.client.delete(f"/api/v1/automations/{login}")).status_code == 204
    assert_error(await acme.client.request(method, f"/api/v1/automations/{login}{path}", json=body), 404, login)


async def ended(
    db: Database, task_id: str, status: str, *, days_ago: int, seconds: float, error: str | None = None
) -> None:
    """Make the task one that was submitted `days_ago` and ran `seconds` to this status."""
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE tasks SET status = %(status)s, error = %(error)s,"
            " created_at = now() - make_interval(days => %(days)s),"
            " started_at = now() - make_interval(days => %(days)s),"
            " completed_at = now() - make_interval(days => %(days)s) + make_interval(secs => %(seconds)s)"
            " WHERE id = %(id)s",
            {"status": status, "error": error, "days": days_ago, "seconds": seconds, "id": uuid.UUID(task_id)},
        )


async def test_runs_over_time(acme: Account, login: str, db: Database) -> None:
    empty = (await acme.client.get(f"/api/v1/automations/{login}/runs?days=3")).json()
    assert (empty["total"], empty["success_rate"], empty["last_failure"]) == (0, None, None)
    assert [day["total"] for day in empty["per_day"]] == [0, 0, 0]

    ids = [await submit_ok(acme) for _ in range(5)]
    await ended(db, ids[0], "success", days_ago=0, seconds=10)
    await ended(db, ids[1], "success", days_ago=1, seconds=20)
    await ended(db, ids[2], "failed", days_ago=0, seconds=30, error="Step 2 timed out\n  at click_element")
    await ended(db, ids[3], "cancelled", days_ago=0, seconds=1)
    await ended(db, ids[4], "success", days_ago=40, seconds=5)  # outside the window

    runs = (await acme.client.get(f"/api/v1/automations/{login}/runs", params={"days": 7})).json()
    assert (runs["days"], runs["total"], runs["succeeded"], runs["failed"], runs["cancelled"]) == (7, 4, 2, 1, 1)
    assert runs["success_rate"] == pytest.approx(2 / 3)
    assert runs["median_duration_s"] == pytest.approx(20)
    assert len(runs["per_day"]) == 7
    yesterday, today = runs["per_day"][-2:]
    assert (today["total"], today["succeeded"], today["failed"], today["cancelled"]) == (3, 1, 1, 1)
    assert today["median_duration_s"] == pytest.approx(20)  # of the two that ended on their own
    assert (yesterday["total"], yesterday["succeeded"]) == (1, 1)
    failure = runs["last_failure"]
    assert (failure["task_id"], failure["error"], failure["version"]) == (ids[2], "Step 2 timed out", 1)
