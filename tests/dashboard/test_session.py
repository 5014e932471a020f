"""Dashboard sessions at the API level: the sealed cookie, CSRF protection, revocation and tenancy."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from rebrowse.api.dashboard.session import COOKIE, CSRF_HEADER, SESSION_TTL_S, open_session, seal_session
from rebrowse.store import accounts
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer, generate_key
from tests.api.conftest import BASE_URL, Account, submit_ok

CSRF = {CSRF_HEADER: "1"}


def cookie_client(app: FastAPI, base_url: str = BASE_URL) -> httpx.AsyncClient:
    """A client with a cookie jar and no API key, as a browser on the dashboard."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@asynccontextmanager
async def signed_in(app: FastAPI, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie client signed in with the key."""
    async with cookie_client(app) as client:
        response = await client.post("/api/v1/session", json={"api_key": key}, headers=CSRF)
        assert response.status_code == 200, response.text
        yield client


async def test_sign_in_sets_a_sealed_http_only_strict_cookie(app: FastAPI, acme: Account, sealer: Sealer) -> None:
    async with cookie_client(app) as client:
        response = await client.post("/api/v1/session", json={"api_key": acme.key}, headers=CSRF)
        assert response.status_code == 200, response.text
        signed_in = response.json()
        keys = (await acme.client.get("/api/v1/keys")).json()["keys"]
        key_id = next(key["id"] for key in keys if acme.key.startswith(key["prefix"]))
        assert signed_in == {"account_name": "acme", "role": "owner", "is_admin": False, "key_id": key_id}
        header = response.headers["set-cookie"]
        assert header.startswith(f"{COOKIE}=")
        attributes = [part.strip().lower() for part in header.split(";")]
        assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
        assert f"max-age={SESSION_TTL_S}" in attributes
        assert "secure" not in attributes  # plain http: a Secure cookie would never come back
        value = client.cookies[COOKIE]
        assert acme.key not in value
        session = open_session(sealer, value)
        assert session is not None
        assert SESSION_TTL_S - 60 < session.expires_at - time.time() <= SESSION_TTL_S


async def test_over_https_the_cookie_is_secure(app: FastAPI, acme: Account) -> None:
    async with cookie_client(app, "https://rebrowse.test") as client:
        response = await client.post("/api/v1/session", json={"api_key": acme.key}, headers=CSRF)
        assert response.status_code == 200
        assert "secure" in [part.strip().lower() for part in response.headers["set-cookie"].split(";")]


async def test_a_wrong_key_does_not_sign_in(app: FastAPI) -> None:
    async with cookie_client(app) as client:
        response = await client.post("/api/v1/session", json={"api_key": "rb_wrong"}, headers=CSRF)
        assert response.status_code == 401
        assert COOKIE not in client.cookies


async def test_the_session_endpoints_need_the_csrf_header(app: FastAPI, acme: Account) -> None:
    async with cookie_client(app) as client:
        response = await client.post("/api/v1/session", json={"api_key": acme.key})
        assert response.status_code == 403
        assert COOKIE not in client.cookies
        # A cross-site form can only send form encodings, and no custom header.
        form = await client.post("/api/v1/session", data={"api_key": acme.key})
        assert form.status_code in (400, 403) and COOKIE not in client.cookies


@pytest.mark.usefixtures("login")
async def test_the_cookie_authenticates_reads_in_the_account_only(app: FastAPI, acme: Account, other: Account) -> None:
    mine = await submit_ok(acme)
    async with signed_in(app, acme.key) as client:
        assert (await client.get("/api/v1/session")).json()["account_name"] == "acme"
        listed = await client.get("/api/v1/tasks")
        assert [t["task_id"] for t in listed.json()["tasks"]] == [mine]
        assert (await client.get(f"/api/v1/tasks/{mine}")).status_code == 200
    async with signed_in(app, other.key) as client:
        assert (await client.get(f"/api/v1/tasks/{mine}")).status_code == 404
        assert (await client.get("/api/v1/tasks")).json()["tasks"] == []


@pytest.mark.usefixtures("login")
async def test_unsafe_methods_by_cookie_need_the_csrf_header(app: FastAPI, acme: Account) -> None:
    task_id = await submit_ok(acme)
    async with signed_in(app, acme.key) as client:
        body = {"endpoint_name": "login", "input_parameters": {"username": ["ada"]}}
        refused = [
            await client.post("/api/v1/inference", json=body),
            await client.post("/api/v1/keys", json={"name": "x"}),
            await client.post(f"/api/v1/tasks/{task_id}/cancel"),
            await client.put("/api/v1/automations/copy", json={"automation": {"url": "about:blank", "nodes": []}}),
            await client.delete("/api/v1/automations/login"),
        ]
        assert [r.status_code for r in refused] == [403] * 5
        assert all(CSRF_HEADER in r.json()["detail"] for r in refused)
        assert (await client.get(f"/api/v1/tasks/{task_id}")).json()["status"] == "queued"

        submitted = await client.post("/api/v1/inference", json=body, headers=CSRF)
        assert submitted.status_code == 202, submitted.text
        assert (await client.post("/api/v1/keys", json={"name": "x"}, headers=CSRF)).status_code == 201
        cancelled = await client.post(f"/api/v1/tasks/{task_id}/cancel", headers=CSRF)
        assert cancelled.json()["status"] == "cancelled"


@pytest.mark.usefixtures("login")
async def test_an_api_key_needs_no_csrf_header_and_wins_over_the_cookie(
    app: FastAPI, acme: Account, other: Account
) -> None:
    async with signed_in(app, other.key) as client:
        response = await client.post(
            "/api/v1/inference", json={"endpoint_name": "login"}, headers={"x-api-key": acme.key}
        )
        assert response.status_code == 202, response.text
        assert (await client.get("/api/v1/tasks", headers={"x-api-key": acme.key})).json()["tasks"]
        assert (await client.get("/api/v1/tasks")).json()["tasks"] == []  # the cookie's account: other


async def test_a_revoked_key_ends_its_sessions_at_once(app: FastAPI, acme: Account, db: Database) -> None:
    async with db.connection() as conn:
        key, value = await accounts.create_key(conn, acme.id, "dashboard")
    async with signed_in(app, value) as client:
        assert (await client.get("/api/v1/keys")).status_code == 200
        revoked = await client.delete(f"/api/v1/keys/{key.id}", headers=CSRF)
        assert revoked.status_code == 204
        assert (await client.get("/api/v1/keys")).status_code == 401
        assert (await client.get("/api/v1/session")).status_code == 401


async def test_expired_forged_and_garbled_sessions_are_refused(app: FastAPI, acme: Account, sealer: Sealer) -> None:
    async with signed_in(app, acme.key) as client:
        session = open_session(sealer, client.cookies[COOKIE])
    assert session is not None
    values = {
        "expired": seal_session(sealer, session.id, now=time.time() - SESSION_TTL_S - 1),
        "forged": seal_session(Sealer(generate_key()), session.id),
        "unknown": seal_session(sealer, uuid.uuid4()),
        "garbled": "not-a-session",
    }
    for kind, value in values.items():
        async with cookie_client(app) as client:
            client.cookies.set(COOKIE, value)
            response = await client.get("/api/v1/tasks")
            assert response.status_code == 401, kind
            assert "sign in again" in response.json()["detail"]


async def test_sign_out_clears_the_cookie(app: FastAPI, acme: Account) -> None:
    async with signed_in(app, acme.key) as client:
        assert (await client.delete("/api/v1/session")).status_code == 403
        response = await client.delete("/api/v1/session", headers=CSRF)
        assert response.status_code == 200
        assert COOKIE not in client.cookies
        assert (await client.get("/api/v1/tasks")).status_code == 401


async def test_a_signed_out_cookie_replayed_is_refused(app: FastAPI, acme: Account) -> None:
    async with signed_in(app, acme.key) as client, signed_in(app, acme.key) as elsewhere:
        captured = client.cookies[COOKIE]
        assert (await client.delete("/api/v1/session", headers=CSRF)).status_code == 200
        async with cookie_client(app) as attacker:
            attacker.cookies.set(COOKIE, captured)
            for response in (await attacker.get("/api/v1/tasks"), await attacker.get("/api/v1/session")):
                assert response.status_code == 401 and "sign in again" in response.json()["detail"]
            home = await attacker.get("/")
            assert home.headers["location"] == "/sign-in"
        # Only that session ended: the same key signed in elsewhere still works.
        assert (await elsewhere.get("/api/v1/tasks")).status_code == 200


async def test_home_redirects_by_session_and_pages_are_served_with_a_strict_policy(app: FastAPI, acme: Account) -> None:
    async with cookie_client(app) as client:
        home = await client.get("/")
        assert (home.status_code, home.headers["location"]) == (303, "/sign-in")
    async with signed_in(app, acme.key) as client:
        home = await client.get("/")
        assert (home.status_code, home.headers["location"]) == (303, "/tasks")
        for path in ("/sign-in", "/tasks", "/tasks/abc", "/automations", "/automations/login", "/keys", "/messages"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert '<script type="module" src="/static/dashboard/app.js">' in page.text
            policy = page.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "script-src" not in policy  # no inline scripts either
        script = await client.get("/static/dashboard/app.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
