"""Screenshots cover the fields a secret was typed into: per step, final, and the screenshot extraction."""

from __future__ import annotations

import base64
from pathlib import Path

from playwright.async_api import Page

from rebrowse.secrets.resolver import SecretResolver
from tests.engine.conftest import Replay, action, automation
from tests.engine.test_security import FakeOnePassword, typed

MASK_COLOUR = (255, 0, 255)  # Playwright's default mask colour
# Points inside masked.html's fields (CSS pixels; screenshots are taken at a device scale of 1).
SECRET_FIELD = [(x, y) for x in (45, 120, 200, 280, 355) for y in (45, 70, 95)]
PLAIN_FIELD = [(x, 190) for x in (45, 120, 200, 280, 355)]
SECRET = "wJalrXUtnFEMI/K7MDENG"
REFERENCE = "op://Vault/aws/secret_access_key"


async def colours(page: Page, png: bytes, points: list[tuple[int, int]]) -> set[tuple[int, int, int]]:
    """The colours of a PNG at the points, decoded by Chromium (no imaging library needed)."""
    pixels: list[list[int]] = await page.evaluate(
        """async ([data, points]) => {
            const image = new Image();
            image.src = "data:image/png;base64," + data;
            await image.decode();
            const canvas = document.createElement("canvas");
            canvas.width = image.width;
            canvas.height = image.height;
            const context = canvas.getContext("2d");
            context.drawImage(image, 0, 0);
            return points.map(([x, y]) => Array.from(context.getImageData(x, y, 1, 1).data));
        }""",
        [base64.b64encode(png).decode(), points],
    )
    return {(r, g, b) for r, g, b, _ in pixels}


def secret_form(*extra_nodes: dict[str, object]) -> dict[str, object]:
    secure = {"key": [{"onepassword": {"vault_name": "Vault", "item_name": "aws", "field_name": "secret_access_key"}}]}
    nodes = [
        typed('locator("#secret-field")', "{key[0]}"),
        typed('locator("#plain-field")', "not a secret"),
        action("extraction_action", {"screenshot": {"filename": "shot.png", "full_page": False}}),
        *extra_nodes,
    ]
    return automation("masked.html", nodes, parameters={"secure_parameters": secure}, take_final_screenshot=True)


async def test_a_field_given_a_secret_is_masked_in_every_screenshot(replay: Replay, page: Page, tmp_path: Path) -> None:
    resolver = SecretResolver(onepassword=FakeOnePassword({REFERENCE: SECRET}))

    result = await replay(secret_form(), secrets=resolver, screenshots="every_step")

    assert result.status == "success", result.error
    out_dir = Path(result.out_dir)
    shots = {
        **{f"step {step.index}": out_dir / step.screenshot for step in result.steps if step.screenshot},
        "final": Path(result.final_screenshot or ""),
        "extraction file": out_dir / "screenshots" / "shot.png",
    }
    assert len(shots) == len(result.steps) + 2
    for name, path in shots.items():
        png = path.read_bytes()
        assert await colours(page, png, SECRET_FIELD) == {MASK_COLOUR}, name
        assert MASK_COLOUR not in await colours(page, png, PLAIN_FIELD), name


async def test_a_secret_field_of_a_closed_tab_does_not_break_the_screenshot(
    replay: Replay, page: Page, tmp_path: Path
) -> None:
    resolver = SecretResolver(onepassword=FakeOnePassword({REFERENCE: SECRET}))
    secure = {"key": [{"onepassword": {"vault_name": "Vault", "item_name": "aws", "field_name": "secret_access_key"}}]}
    nodes = [
        action("interaction_action", {"go_to_url": {"url": "http://site.test/masked.html", "new_tab": True}}),
        typed('locator("#secret-field")', "{key[0]}"),
        action("interaction_action", {"close_current_tab": {}}),
        action("extraction_action", {"screenshot": {"filename": "first.png", "full_page": False}}),
    ]
    data = automation("masked.html", nodes, parameters={"secure_parameters": secure}, take_final_screenshot=True)

    result = await replay(data, secrets=resolver, screenshots="every_step")

    # Playwright refuses a mask locator of a closed page: the screenshots were taken without it.
    assert result.status == "success", result.error
    assert result.final_screenshot is not None and all(step.screenshot for step in result.steps)
