"""6. Bad automations and inputs: a generated corpus (wrong types, huge strings, deep nesting, unicode, injection
strings in every field that reaches a locator, an expression or a URL) through PUT automations and POST
inference. Each request gets a 4xx, or its task fails with an error; no payload executes (the marker file a
payload would create never appears); the worker stays up and runs a normal task afterwards."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reliability.harness import TERMINAL, Deployment, Postgres, Row, deployment
from reliability.worker_kill import automation

NAME = "6. bad automations and inputs"
HUGE = 1_000_000  # characters of the huge strings: under the API's body limit, far over any sane field


def injections(marker: Path) -> list[str]:
    """Strings that would do harm if they reached an interpreter, a shell, SQL or a browser unchecked."""
    return [
        f"__import__('os').system('touch {marker}')",
        f"open('{marker}', 'w').write('x')",
        f"{{__import__('os').system('touch {marker}')}}",
        '"); alert(1); ("',
        "') or page.evaluate('document.body.innerHTML=1",
        "javascript:alert(document.cookie)",
        "file:///etc/passwd",
        "'; DROP TABLE tasks; --",
        "1 OR 1=1; SELECT pg_sleep(30)",
        "{{7*7}} ${7*7} #{7*7}",
        "../../../../etc/passwd",
        "x.__class__.__mro__[1].__subclasses__()",
        "\u202e\u0000\ud7ff 名前 🎭 \u200b",
    ]


DEEP = "__deep__"  # replaced, in the JSON text sent, by a value nested deeper than Python's json can encode
DEPTH = 5_000


def encode(body: Any) -> bytes:
    """The JSON text of a request body, with every DEEP string replaced by a DEPTH levels deep value."""
    deep = '{"n":[' * DEPTH + '"leaf"' + "]}" * DEPTH
    return json.dumps(body).replace(json.dumps(DEEP), deep).encode()


def with_field(base: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    """A copy of `base` with the field at `path` set to `value`."""
    changed = copy.deepcopy(base)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def action(**fields: Any) -> dict[str, Any]:
    return {"type": "action_node", **fields}


def interaction(**fields: Any) -> dict[str, Any]:
    """An interaction node that gives up after one short try (a bad locator must not hold a slot long)."""
    return action(interaction_action={"max_tries": 1, "max_timeout_seconds_per_try": 1, **fields})


def reaching_fields(base: dict[str, Any], text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Automations with `text` in each field that reaches a locator, an expression, a URL or a placeholder."""
    click = 'locator("#single")'
    yield "url", with_field(base, ["url"], text)
    yield "locator", with_field(base, ["nodes"], [interaction(click_element={"command": text})])
    yield "input text", with_field(base, ["nodes"], [interaction(input_text={"command": click, "input_text": text})])
    yield "go to url", with_field(base, ["nodes"], [interaction(go_to_url={"url": text})])
    yield "condition", with_field(base, ["nodes"], [{"type": "if_else_node", "condition": text, "if_nodes": []}])
    yield (
        "expression",
        with_field(base, ["nodes"], [action(misc_action={"set_variable": {"name": "v", "expression": text}})]),
    )
    yield (
        "loop locator",
        with_field(base, ["nodes"], [{"type": "for_loop_node", "locator": text, "nodes": [], "max_iterations": 2}]),
    )
    yield "python script", with_field(base, ["nodes"], [action(python_script_action={"execution_code": text})])
    yield (
        "api call url",
        with_field(base, ["nodes"], [action(extraction_action={"api_call": {"url": text, "timeout": 2}})]),
    )
    yield (
        "placeholder",
        with_field(base, ["nodes"], [interaction(click_element={"command": f'locator("#{{{text}}}")'})]),
    )


def malformed(base: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Automations of the wrong shape: wrong types, huge strings, deep nesting, missing and unknown fields."""
    yield "not an object", ["url"]
    yield "url a number", with_field(base, ["url"], 123)
    yield "nodes a string", with_field(base, ["nodes"], "click")
    yield "node a number", with_field(base, ["nodes"], [1])
    yield "unknown node type", with_field(base, ["nodes"], [{"type": "rm_rf_node"}])
    yield (
        "two actions in a node",
        with_field(base, ["nodes"], [action(sleep_action={"sleep_time": 1}, interaction_action={"go_back": {}})]),
    )
    yield "negative retries", with_field(base, ["max_retries"], -1)
    yield "retries a string", with_field(base, ["max_retries"], "many")
    yield "parameters a list", with_field(base, ["parameters"], [])
    yield "input a dict", with_field(base, ["parameters", "input_parameters"], {"login": {"a": 1}})
    yield "huge url", with_field(base, ["url"], "http://127.0.0.1/" + "a" * HUGE)
    yield "huge locator", with_field(base, ["nodes"], [interaction(click_element={"command": "x" * HUGE})])
    yield "deep nesting", with_field(base, ["parameters", "input_parameters", "login"], [DEEP])
    yield "deep node nesting", with_field(base, ["nodes"], [nested_ifs(300)])
    yield "missing url", {k: v for k, v in base.items() if k != "url"}
    yield "unknown field", with_field(base, ["rm"], "-rf")


def nested_ifs(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = action(sleep_action={"sleep_time": 0})
    for _ in range(depth):
        node = {"type": "if_else_node", "condition": "True", "if_nodes": [node]}
    return node


def bad_submissions(marker: Path) -> Iterator[tuple[str, Any]]:
    """Inference bodies for the valid `short` automation with bad fields."""
    yield "no endpoint", {}
    yield "endpoint a list", {"endpoint_name": ["short"]}
    yield "unknown endpoint", {"endpoint_name": "../../short"}
    yield "inputs a string", {"endpoint_name": "short", "input_parameters": "login=x"}
    yield "input not a list", {"endpoint_name": "short", "input_parameters": {"login": "x"}}
    yield "huge input", {"endpoint_name": "short", "input_parameters": {"login": ["x" * HUGE]}}
    yield "deep input", {"endpoint_name": "short", "input_parameters": {"login": [DEEP]}}
    yield "priority a string", {"endpoint_name": "short", "priority": "high"}
    yield "timeout negative", {"endpoint_name": "short", "max_timeout_in_minutes": -5}
    yield "unknown unique name", {"endpoint_name": "short", "unique_parameter_names": ["nope"]}
    for text in injections(marker):
        yield f"callback {text[:20]!r}", {"endpoint_name": "short", "task_callback_url": text}
        yield f"input {text[:20]!r}", {"endpoint_name": "short", "input_parameters": {"login": [text]}}


@dataclass
class Tally:
    """What the corpus got back."""

    requests: int = 0
    refused: int = 0  # 4xx
    server_errors: int = 0
    tasks: list[str] | None = None
    unexpected: list[str] | None = None

    def note(self, label: str, response: httpx.Response) -> None:
        self.requests += 1
        if 400 <= response.status_code < 500:
            self.refused += 1
        elif response.status_code >= 500:
            self.server_errors += 1
            self.problem(f"{label}: {response.status_code}")

    def problem(self, text: str) -> None:
        self.unexpected = [*(self.unexpected or []), text]


async def send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    return await client.request(method, path, content=encode(body), headers={"content-type": "application/json"})


async def put(client: httpx.AsyncClient, name: str, definition: Any) -> httpx.Response:
    return await send(client, "PUT", f"/api/v1/automations/{name}", {"automation": definition})


async def run_corpus(deployed: Deployment, marker: Path) -> Tally:
    tally = Tally(tasks=[])
    base = automation(deployed.site.url)
    async with deployed.client() as client:
        await deployed.put_automation("short", base)
        candidates = [
            (f"{field} {text[:24]!r}", definition)
            for text in injections(marker)
            for field, definition in reaching_fields(base, text)
        ]
        for index, (label, definition) in enumerate([*candidates, *malformed(base)]):
            response = await put(client, f"bad{index}", definition)
            tally.note(f"PUT {label}", response)
            if response.status_code == 200:  # stored: it must run to a clean failure (or a harmless success)
                submitted = await client.post("/api/v1/inference", json={"endpoint_name": f"bad{index}"})
                tally.note(f"POST {label}", submitted)
                if submitted.status_code == 202:
                    assert tally.tasks is not None
                    tally.tasks.append(str(submitted.json()["task_id"]))
        for label, body in bad_submissions(marker):
            response = await send(client, "POST", "/api/v1/inference", body)
            tally.note(f"POST {label}", response)
            if response.status_code == 202:
                assert tally.tasks is not None
                tally.tasks.append(str(response.json()["task_id"]))
        for label, name in (("endpoint name", "a" * 10_000), ("endpoint name dots", ".."), ("unicode name", "名前🎭")):
            tally.note(f"PUT {label}", await put(client, name, base))
    return tally


async def run(postgres: Postgres, work_dir: Path) -> Row:
    row = Row(NAME)
    marker = work_dir / "payload-executed"
    async with deployment(postgres, work_dir) as deployed:
        api = await deployed.start_api()
        worker = await deployed.start_worker("bad-inputs", 2)
        tally = await run_corpus(deployed, marker)
        task_ids = tally.tasks or []
        statuses = await deployed.wait_terminal(task_ids, deadline_s=120 + 10 * len(task_ids))
        rows = await deployed.query(
            "SELECT id::text AS id, status, error FROM tasks WHERE id = ANY(%s::uuid[])", task_ids
        )
        unclear = [r for r in rows if r["status"] != "success" and not (r["error"] or "").strip()]
        async with deployed.client() as client:
            normal = await deployed.submit(client, {"endpoint_name": "short", "input_parameters": {"login": ["ok"]}})
        after = (await deployed.wait_terminal([normal], deadline_s=120)).get(normal)
        row.tasks = len(task_ids) + 1
        row.terminal = sum(1 for t in task_ids if statuses.get(t) in TERMINAL) + (after in TERMINAL)
        row.lost = row.tasks - row.terminal
        row.server_errors = tally.server_errors
        row.require(not marker.exists(), "a payload executed: the marker file exists")
        row.require(tally.server_errors == 0, f"5xx answers: {(tally.unexpected or [])[:5]}")
        row.require(row.lost == 0, f"{row.lost} tasks never ended")
        row.require(not unclear, f"{len(unclear)} tasks failed without an error")
        row.require(after == "success", f"the normal task afterwards ended {after}")
        row.require(api.running and worker.running, "a process stopped")
        failed = sum(1 for r in rows if r["status"] != "success")
        row.notes.append(
            f"{tally.requests} requests: {tally.refused} refused with a 4xx; {len(task_ids)} tasks ran"
            f" ({failed} failed with an error)"
        )
    return row
