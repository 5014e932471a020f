"""7. The outside security review's attacks, against a real deployment: each must be closed.

Egress: automations of an ordinary account aim the worker at the API's own /metrics (loopback, spanning every
account) directly, by name, through a redirect from an allowed site, and at the cloud metadata address, with every
action that reaches a URL; each task must fail with an error naming the setting, and no byte of the metrics may
reach its outputs. Redaction: awkward secrets (a space and URL-special characters, quotes, HTML, unicode) put into
URLs, fields and failing locators must appear in no form in the task row, the callback outbox, the callbacks
received, the artifacts or the worker's log. Access: a member key cannot see or revoke the admin key, the last
admin key cannot be revoked, a signed-out session cookie is dead, a task pinned to a worker that does not exist is
refused, a secure parameter stored in an automation is neither stored nor returned in clear, and callbacks carry a
link to the final screenshot instead of its bytes.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

import boto3
import httpx
from moto.server import ThreadedMotoServer

from reliability.harness import Deployment, Postgres, Row, deployment

NAME = "7. security review attacks"
ALLOW_SETTING = "REBROWSE_BROWSER_ALLOW_HOSTS"
METRICS_MARK = "rebrowse_queue_depth"  # a line every /metrics answer has
SECRETS = (
    "p@ss w0rd!Xy9",
    "a'b(c)*d,e;f:g$h@i j",
    "<b>\"tag\" & 'amp'</b> x",
    "back\\slash\\ /and/ 100% + 50%=~#?",
    "ünï cødé 密码 ✓ tab\there",
    "`tick` {brace} [square] |pipe| ^caret^",
)
TOTP_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
AWS_REGION = "us-east-1"
CREDENTIAL = "reliability"  # moto takes any


def node(**action: Any) -> dict[str, Any]:
    return {"type": "action_node", **action}


def short_interaction(**fields: Any) -> dict[str, Any]:
    return node(interaction_action={"max_tries": 1, "max_timeout_seconds_per_try": 2, **fields})


def egress_attacks(site: str, api: str, redirector: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Automations that try to read the API's /metrics (or the metadata service) from the worker."""
    metrics = f"{api}/metrics"
    bounce = f"{redirector}/redirect?to={quote(metrics, safe='')}"
    api_port = api.rsplit(":", 1)[1]
    start = f"{site}/buttons.html"

    def automation(nodes: list[dict[str, Any]], url: str = start) -> dict[str, Any]:
        return {"url": url, "parameters": {}, "nodes": nodes, "take_final_screenshot": False}

    def api_call(url: str) -> dict[str, Any]:
        call = {"url": url, "timeout": 5, "output_variable_names": ["stolen"]}
        return automation([node(extraction_action={"api_call": call})])

    yield "api_call to /metrics", api_call(metrics)
    yield "api_call redirected to /metrics", api_call(bounce)
    yield "go_to_url /metrics", automation([short_interaction(go_to_url={"url": metrics})])
    yield "go_to_url redirected to /metrics", automation([short_interaction(go_to_url={"url": bounce})])
    yield "go_to_url localhost", automation([short_interaction(go_to_url={"url": f"http://localhost:{api_port}/"})])
    yield "go_to_url [::1]", automation([short_interaction(go_to_url={"url": f"http://[::1]:{api_port}/metrics"})])
    yield (
        "go_to_url metadata",
        automation([short_interaction(go_to_url={"url": "http://169.254.169.254/latest/meta-data/"})]),
    )
    yield "start url /metrics", automation([], url=metrics)
    yield "download_url_as_pdf /metrics", automation([short_interaction(download_url_as_pdf={"url": metrics})])
    yield (
        "upload_file.file_url /metrics",
        automation(
            [short_interaction(upload_file={"command": 'locator("#file")', "file_url": metrics})],
            url=f"{site}/upload.html",
        ),
    )


def leaking_automation(site: str) -> dict[str, Any]:
    """Puts the secret into a URL's path, query and fragment, a text field, and a locator that fails."""
    declared = {"amazon_secrets_manager": {"secret_name": "awkward-0", "region_name": AWS_REGION}}
    return {
        "url": f"{site}/search.html",
        "parameters": {"secure_parameters": {"pw": [declared]}},
        "nodes": [
            short_interaction(go_to_url={"url": f"{site}/search.html?q={{pw[0]}}&again={{pw[0]}}#{{pw[0]}}"}),
            short_interaction(input_text={"command": 'get_by_role("searchbox")', "input_text": "{pw[0]}"}),
            short_interaction(go_to_url={"url": f"{site}/missing/{{pw[0]}}/page.html"}),
            short_interaction(click_element={"command": 'get_by_text("{pw[0]}", exact=True)'}),
        ],
        "take_final_screenshot": True,
    }


def decoded(text: str) -> set[str]:
    """The text and what decoding it the ways a reader might gives."""
    forms = {text, unquote(text), unquote_plus(text), html.unescape(text), html.unescape(unquote(text))}
    try:
        forms.add(json.dumps(json.loads(text), ensure_ascii=False))
    except ValueError:
        pass
    return forms


def leaks(texts: dict[str, str], secrets: tuple[str, ...]) -> list[str]:
    """Where (by label) some secret appears, raw or once decoded."""
    found = []
    for label, text in texts.items():
        for secret in secrets:
            if any(secret in form for form in decoded(text)):
                found.append(f"{label} holds {secret[:6]!r}…")
    return found


def artifact_texts(deployed: Deployment, task_id: str) -> dict[str, str]:
    """Every text file a task left in the artifacts directory."""
    root = deployed.data_dir / "artifacts" / task_id
    texts = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".txt", ".html"):
            texts[str(path.relative_to(deployed.data_dir))] = path.read_text(errors="replace")
    return texts


async def database_texts(deployed: Deployment, task_id: str) -> dict[str, str]:
    rows = await deployed.query("SELECT row_to_json(t)::text AS row FROM tasks t WHERE id = %s::uuid", task_id)
    events = await deployed.query(
        "SELECT payload::text AS payload FROM callback_events WHERE task_id = %s::uuid", task_id
    )
    return {"tasks row": rows[0]["row"], **{f"callback outbox {i}": e["payload"] for i, e in enumerate(events)}}


class SecretsManager:
    """moto's Secrets Manager on 127.0.0.1, holding the awkward secrets; the worker reaches it by AWS_ENDPOINT_URL."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def __enter__(self) -> SecretsManager:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        client = boto3.client(
            "secretsmanager",
            region_name=AWS_REGION,
            endpoint_url=self.url,
            aws_access_key_id=CREDENTIAL,
            aws_secret_access_key=CREDENTIAL,
        )
        for index, secret in enumerate(SECRETS):
            client.create_secret(Name=f"awkward-{index}", SecretString=secret)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": CREDENTIAL,
            "AWS_DEFAULT_REGION": AWS_REGION,
        }


async def check_egress(deployed: Deployment, row: Row) -> list[str]:
    """Submit every egress attack; returns their task ids after checking how each ended."""
    labels: dict[str, str] = {}
    attacks = egress_attacks(deployed.site.url, deployed.api_url, deployed.receiver.base_url)
    async with deployed.client() as client:
        for index, (label, definition) in enumerate(attacks):
            await deployed.put_automation(f"egress{index}", definition)
            labels[await deployed.submit(client, {"endpoint_name": f"egress{index}"})] = label
    await deployed.wait_terminal(list(labels), deadline_s=60 + 15 * len(labels))
    for task_id, label in labels.items():
        found = await deployed.query(
            "SELECT status, error, row_to_json(t)::text AS row FROM tasks t WHERE id = %s::uuid", task_id
        )
        status, error, text = found[0]["status"], found[0]["error"] or "", found[0]["row"]
        row.require(status == "failed", f"{label}: ended {status}, not failed")
        row.require(ALLOW_SETTING in error, f"{label}: the error does not name {ALLOW_SETTING}: {error[:160]!r}")
        row.require(METRICS_MARK not in text, f"{label}: the metrics reached the task's record")
        files = artifact_texts(deployed, task_id)
        row.require(not any(METRICS_MARK in t for t in files.values()), f"{label}: the metrics reached an artifact")
    row.notes.append(f"egress: {len(labels)} attacks, each failed naming {ALLOW_SETTING}, no metrics anywhere")
    return list(labels)


async def check_redaction(deployed: Deployment, worker_log: Path, row: Row) -> list[str]:
    """Run the leaking automation once per awkward secret; no form of any secret may be found anywhere."""
    await deployed.put_automation("leaky", leaking_automation(deployed.site.url))
    task_ids = []
    async with deployed.client() as client:
        for index in range(len(SECRETS)):
            reference = {"secret_name": f"awkward-{index}", "region_name": AWS_REGION}
            secure = {"pw": [{"amazon_secrets_manager": reference}]}
            body = {"endpoint_name": "leaky", "secure_parameters": secure, "task_callback_url": deployed.receiver.url}
            task_ids.append(await deployed.submit(client, body))
    statuses = await deployed.wait_terminal(task_ids, deadline_s=60 + 30 * len(task_ids))
    await deployed.wait_callbacks(set(task_ids), deadline_s=60)
    texts: dict[str, str] = {}
    for task_id in task_ids:
        row.require(statuses.get(task_id) == "failed", f"the leaking task ended {statuses.get(task_id)}, not failed")
        texts |= await database_texts(deployed, task_id) | artifact_texts(deployed, task_id)
    texts |= {f"callback received {i}": body for i, body in enumerate(deployed.receiver.bodies)}
    texts["worker log"] = worker_log.read_text(errors="replace")
    found = leaks(texts, SECRETS)
    row.require(not found, f"secrets leaked: {found[:5]}")
    row.notes.append(f"redaction: {len(SECRETS)} awkward secrets, {len(texts)} texts searched raw and decoded")
    return task_ids


def screenshot_links_only(deployed: Deployment, row: Row) -> None:
    """The callbacks received name the final screenshot by URL and never carry its bytes."""
    with_screenshot = [json.loads(b) for b in deployed.receiver.bodies]
    row.require(bool(with_screenshot), "no callback was received")
    for body in with_screenshot:
        row.require(body.get("final_screenshot") is None, "a callback carried the screenshot's bytes")
        row.require(bool(body.get("final_screenshot_url")), "a callback lacks final_screenshot_url")


async def check_access(deployed: Deployment, row: Row) -> None:
    """Keys, sessions, pinned workers and an automation's stored secrets."""
    async with deployed.client() as admin:
        keys = (await admin.get("/api/v1/keys")).json()["keys"]
        admin_key_id = next(k["id"] for k in keys if k["is_admin"])
        created = await admin.post("/api/v1/keys", json={"name": "member"})
        member_value = created.json()["api_key"]
        async with deployed.client(member_value) as member:
            listed = await member.get("/api/v1/keys")
            visible = {k["id"] for k in listed.json().get("keys", [])} if listed.status_code == 200 else set()
            row.require(admin_key_id not in visible, "a member key lists the admin key")
            revoked = await member.delete(f"/api/v1/keys/{admin_key_id}")
            status = revoked.status_code
            row.require(status in (403, 404), f"a member key revoking the admin key got {status}")
        last = await admin.delete(f"/api/v1/keys/{admin_key_id}")
        row.require(last.status_code == 409, f"revoking the last admin key got {last.status_code}")
        pinned = await admin.post("/api/v1/workers/no-such-worker/inference", json={"endpoint_name": "leaky"})
        row.require(pinned.status_code in (404, 409), f"a task pinned to no worker got {pinned.status_code}")
        await check_stored_secret(deployed, admin, row)
    await check_sign_out(deployed, row)
    row.notes.append(
        "access: member key, last admin key, pinned to no worker, stored TOTP seed, signed-out cookie, screenshot links"
    )


async def check_stored_secret(deployed: Deployment, admin: httpx.AsyncClient, row: Row) -> None:
    definition = {
        "url": f"{deployed.site.url}/buttons.html",
        "parameters": {"secure_parameters": {"code": [{"totp": {"totp_secret": TOTP_SEED}}]}},
        "nodes": [],
    }
    await deployed.put_automation("sealed", definition)
    shown = await admin.get("/api/v1/automations/sealed")
    stored = await deployed.query("SELECT definition::text AS d FROM automations WHERE endpoint_name = 'sealed'")
    row.require(TOTP_SEED not in shown.text, "an automation's secure parameter is returned in clear")
    row.require(all(TOTP_SEED not in r["d"] for r in stored), "an automation's secure parameter is stored in clear")


async def check_sign_out(deployed: Deployment, row: Row) -> None:
    async with deployed.client("") as browser:
        signed_in = await browser.post("/api/v1/session", json={"api_key": deployed.key})
        cookies = dict(signed_in.cookies)
        await browser.delete("/api/v1/session", headers={"x-rebrowse-csrf": "1"})
    async with httpx.AsyncClient(base_url=deployed.api_url, cookies=cookies, timeout=30) as replay:
        replayed = await replay.get("/api/v1/tasks")
    row.require(replayed.status_code == 401, f"a signed-out session cookie replayed got {replayed.status_code}")


async def run(postgres: Postgres, work_dir: Path) -> Row:
    row = Row(NAME)
    with SecretsManager() as vault:
        async with deployment(postgres, work_dir, **vault.env()) as deployed:
            # Only the fixture site and the redirector may be reached: the API's own port stays internal.
            site_port = deployed.site.url.rsplit(":", 1)[1]
            deployed.extra_env[ALLOW_SETTING] = f"127.0.0.1:{site_port},127.0.0.1:{deployed.receiver.port}"
            api = await deployed.start_api()
            worker = await deployed.start_worker("security", 2)
            egress = await check_egress(deployed, row)
            leaky = await check_redaction(deployed, worker.log, row)
            screenshot_links_only(deployed, row)
            await check_access(deployed, row)
            row.tasks = len(egress) + len(leaky)
            statuses = await deployed.statuses([*egress, *leaky])
            row.terminal = sum(1 for s in statuses.values() if s in ("success", "failed", "killed", "cancelled"))
            row.lost = row.tasks - row.terminal
            row.require(api.running and worker.running, "a process stopped")
    return row
