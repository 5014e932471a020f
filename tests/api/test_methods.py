"""A method a path does not accept: 405 in the error shape, with the Allow header HTTP requires."""

from __future__ import annotations

from tests.api.conftest import Account


async def test_a_wrong_method_lists_the_allowed_ones(acme: Account) -> None:
    response = await acme.client.request("TRACE", "/api/v1/health")
    assert response.status_code == 405
    assert response.json()["success"] is False
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET"}


async def test_allow_lists_the_methods_of_every_route_of_the_path(acme: Account) -> None:
    response = await acme.client.request("DELETE", "/api/v1/keys")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
