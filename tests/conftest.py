"""Shared fixtures: one real Chromium and one embedded PostgreSQL per session; fresh contexts and databases per test."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from psycopg import sql

from rebrowse.browser.launch import launch_chromium
from rebrowse.demo.site import SiteServer
from rebrowse.store.database import Database, migrate_url
from rebrowse.store.embedded import start_embedded, with_database
from rebrowse.store.sealing import Sealer, generate_key

SITE_ROOT = Path(__file__).parent / "site"


@pytest.fixture(autouse=True)
def umask_restored() -> Iterator[None]:
    """The CLI sets the process's umask to 077 when it runs (files are the user's alone); a test that invokes it in
    this process must not leave that to the tests after it (a mail server reading a file as another user, say)."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture(scope="session")
def site() -> Iterator[SiteServer]:
    """The fixture site (tests/site) on 127.0.0.1, with the shared dynamic routes."""
    server = SiteServer(SITE_ROOT)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await launch_chromium(playwright)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context()
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """An embedded PostgreSQL for the session, with a migrated template database; yields its base URL."""
    # Not under pytest's tmp dirs: PostgreSQL runs as another user (we are root) and must reach its files.
    data_dir = Path(tempfile.mkdtemp(prefix="rebrowse-test-pg-"))
    data_dir.chmod(0o755)
    server = start_embedded(data_dir)
    url = server.get_uri()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE rebrowse_template")
        asyncio.run(migrate_url(with_database(url, "rebrowse_template")))
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def database_url(postgres: str) -> Iterator[str]:
    """A fresh, migrated database for one test (copied from the template), dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE rebrowse_template").format(sql.Identifier(name)))
    try:
        yield with_database(postgres, name)
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(generate_key())
