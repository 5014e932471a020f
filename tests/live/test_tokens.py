"""Stream tokens: bound to a task and an account, short-lived, and unforgeable without the server's key."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from rebrowse.live import tokens
from rebrowse.store.sealing import Sealer, generate_key

TASK, ACCOUNT, KEY = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_a_token_grants_its_task_to_its_account_until_it_expires(sealer: Sealer) -> None:
    now = time.time()
    grant = tokens.verify(sealer, tokens.issue(sealer, TASK, ACCOUNT, KEY, now=now), TASK, now=now + 59)
    assert grant == tokens.StreamGrant(grant.token_id, TASK, ACCOUNT, KEY, now + tokens.DEFAULT_TTL_S)
    assert tokens.verify(sealer, tokens.issue(sealer, TASK, ACCOUNT, KEY), TASK).token_id != grant.token_id


def test_an_expired_token_is_refused(sealer: Sealer) -> None:
    token = tokens.issue(sealer, TASK, ACCOUNT, KEY, ttl_s=60, now=1000.0)
    with pytest.raises(tokens.TokenRefused, match="expired"):
        tokens.verify(sealer, token, TASK, now=1060.0)


def test_a_token_for_another_task_is_refused(sealer: Sealer) -> None:
    with pytest.raises(tokens.TokenRefused, match="another task"):
        tokens.verify(sealer, tokens.issue(sealer, TASK, ACCOUNT, KEY), uuid.uuid4())


@pytest.mark.parametrize(
    "forge",
    [
        lambda sealer: tokens.issue(Sealer(generate_key()), TASK, ACCOUNT, KEY),  # another deployment's key
        lambda sealer: tokens.issue(sealer, TASK, ACCOUNT, KEY)[:-4] + "AAAA",  # tampered with
        lambda sealer: sealer.seal_json({"task": str(TASK), "account": str(ACCOUNT), "exp": 1e12}).decode(),
        lambda sealer: "not a token",
        lambda sealer: "",
    ],
)
def test_a_forged_token_is_refused(sealer: Sealer, forge: Callable[[Sealer], str]) -> None:
    token = forge(sealer)
    with pytest.raises(tokens.TokenRefused, match="Invalid stream token"):
        tokens.verify(sealer, token, TASK)
