"""Actions on page elements: click, type, select, check, hover, upload, key presses."""

from __future__ import annotations

import mimetypes
import re
import tempfile
import time
from pathlib import Path

from playwright.async_api import Locator

from rebrowse.automation.actions import (
    CheckAction,
    ClickElementAction,
    DevToolsPress,
    HoverAction,
    InputTextAction,
    InteractionAction,
    KeyPressAction,
    SelectOptionAction,
    UncheckAction,
    UploadFileAction,
)
from rebrowse.automation.placeholders import references
from rebrowse.engine.downloads import expecting_download, response_filename
from rebrowse.engine.egress import fetch
from rebrowse.engine.healing import action_timeout_ms, perform
from rebrowse.engine.keys import press_devtools_key
from rebrowse.engine.state import Step
from rebrowse.engine.targeting import target_and_options, target_and_text
from rebrowse.errors import StepFailed

READ_GRACE_MS = 1000
FILE_URL_TIMEOUT_S = 120.0
# The element itself when it is a file input. Asked with a selector, not an evaluate: Playwright answers selectors
# from its own isolated script, while an evaluate needs its script in the page's world too, which costs about
# 25 ms on every new document.
FILE_INPUT = "xpath=self::input[translate(@type, 'FILE', 'file') = 'file']"
# The options of a <select> as {value, label}: at once when they differ from `previous` (or on the first
# read), else as soon as they change, or after `ms` milliseconds.
READ_OPTIONS = """(el, {previous, ms}) => new Promise((resolve) => {
  const read = () => Array.from(el.options || []).map((o) => ({value: o.value, label: o.label || o.text}));
  const now = read();
  if (previous === null || ms <= 0 || JSON.stringify(now) !== JSON.stringify(previous)) {
    resolve(now);
    return;
  }
  const done = () => {
    observer.disconnect();
    clearTimeout(timer);
    resolve(read());
  };
  const observer = new MutationObserver(done);
  observer.observe(el, {childList: true, subtree: true, attributes: true, characterData: true});
  const timer = setTimeout(done, ms);
})"""


async def click_element(step: Step, action: ClickElementAction, wrapper: InteractionAction) -> None:
    """Click (or double-click) with the given button, optionally catching the download it starts."""

    async def click(locator: Locator, timeout: float) -> None:
        if action.mouse_click:
            await mouse_click(step, locator, action, timeout)
        elif action.double_click:
            await locator.dblclick(button=action.button, force=action.force, timeout=timeout)
        else:
            await locator.click(button=action.button, force=action.force, timeout=timeout)

    async with expecting_download(step, action):
        await perform(step, action, wrapper, click)


async def mouse_click(step: Step, locator: Locator, action: ClickElementAction, timeout: float) -> None:
    """One real mouse click at the element's centre plus the recorded deviation (Optexity clicks twice)."""
    await locator.scroll_into_view_if_needed(timeout=timeout)
    box = await locator.bounding_box(timeout=timeout)
    if box is None:
        raise StepFailed("the element has no box on screen to click with the mouse")
    deviation = action.mouse_click_deviation
    x = box["x"] + box["width"] / 2 + (deviation.x if deviation else 0)
    y = box["y"] + box["height"] / 2 + (deviation.y if deviation else 0)
    await step.page.mouse.click(x, y, button=action.button, click_count=2 if action.double_click else 1)


def empty_list_reference(step: Step, text: str) -> str | None:
    """The name of a parameter the text refers to whose value list is empty (Optexity skips such inputs)."""
    for ref in references(text):
        value = step.values.get(ref.name)
        if isinstance(value, list) and not value:
            return ref.name
    return None


async def input_text(step: Step, action: InputTextAction, wrapper: InteractionAction) -> None:
    """Fill, type or key-press a text (the model's when none is given) into an element, then press Enter when
    asked."""
    picked: Locator | None = None
    if action.input_text is None:
        picked, text = await target_and_text(step, action)
    else:
        empty = empty_list_reference(step, action.input_text)
        if empty is not None:
            step.record.outcome = "skipped"
            step.record.detail = f"parameter {empty} has no values"
            return
        text = step.sub(action.input_text)

    async def type_into(locator: Locator, timeout: float) -> None:
        if action.input_text is not None:
            step.hide_in_screenshots(locator, action.input_text)
        await enter_text(step, action, locator, text, timeout)

    await perform(step, action, wrapper, type_into, picked)


async def enter_text(step: Step, action: InputTextAction, locator: Locator, text: str, timeout: float) -> None:
    """Put the text into the element the way the action asks."""
    if action.fill_or_type == "fill":
        await locator.fill(text, timeout=timeout)
    elif action.fill_or_type == "type":
        await locator.press_sequentially(text, timeout=timeout)
    else:
        # Key by key through the page's keyboard; characters without a key (é, ü) are inserted as text.
        await locator.focus(timeout=timeout)
        await step.page.keyboard.type(text)
    if action.press_enter:
        await locator.press("Enter", timeout=timeout)


def normalise(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def is_pattern(value: str) -> bool:
    return value.startswith("^") or value.endswith("$") or ".*" in value


def fuzzy_pick(wanted: str, candidates: list[str]) -> int | None:
    """Index of the best normalised match (exact, then prefix, then substring) when it is unambiguous."""
    key = normalise(wanted)
    if not key or len(set(map(normalise, candidates))) != len(candidates):
        return None
    for test in (str.__eq__, str.startswith, str.__contains__):
        hits = [i for i, c in enumerate(candidates) if test(normalise(c), key)]
        if len(hits) == 1:
            return hits[0]
    return None


def match_option(wanted: str, options: list[dict[str, str]]) -> str | None:
    """The option value for a requested value: by value, by label, by pattern, then fuzzily."""
    values = [o["value"] for o in options]
    labels = [o["label"] for o in options]
    for field in (values, labels):
        if wanted in field:
            return values[field.index(wanted)]
    if is_pattern(wanted):
        try:
            pattern = re.compile(wanted)
        except re.error as exc:
            raise StepFailed(f"select value {wanted!r} looks like a pattern but is not a valid one: {exc}") from None
        for option in options:
            if pattern.search(option["value"]) or pattern.search(option["label"]):
                return option["value"]
    for field in (values, labels):
        index = fuzzy_pick(wanted, field)
        if index is not None:
            return values[index]
    return None


async def select_option(step: Step, action: SelectOptionAction, wrapper: InteractionAction) -> None:
    """Select options (the model's when none are given) by value, then label, then a normalised fuzzy match; no
    match fails the step."""
    picked: Locator | None = None
    if action.select_values is None:
        picked, wanted = await target_and_options(step, action)
    else:
        wanted = [step.sub(raw) for raw in action.select_values]

    async def choose(locator: Locator, timeout: float) -> tuple[Locator, list[str]]:
        if action.select_values is not None:
            step.hide_in_screenshots(locator, *action.select_values)
        return locator, await options_for(locator, wanted, timeout)

    # Reading the options finds the element (and heals a failed command); selecting them is then on that element.
    locator, chosen = await perform(step, action, wrapper, choose, picked)
    timeout = action_timeout_ms(wrapper)
    async with expecting_download(step, action):
        await locator.select_option(value=chosen, timeout=timeout)
    add_detail(step, f"selected {chosen}")


async def options_for(locator: Locator, wanted: list[str], timeout_ms: float) -> list[str]:
    """The option values for the wanted values, waiting within the timeout for options that load late."""
    deadline = time.monotonic() + timeout_ms / 1000
    options: list[dict[str, str]] | None = None
    while True:
        remaining_ms = max(0.0, (deadline - time.monotonic()) * 1000)
        arg = {"previous": options, "ms": remaining_ms}
        # The script ends itself after `ms`; the grace only covers finding the element and the round trip.
        options = await locator.evaluate(READ_OPTIONS, arg, timeout=remaining_ms + READ_GRACE_MS)
        chosen, unmatched = match_all(wanted, options)
        if unmatched is None:
            return chosen
        if remaining_ms == 0:
            offered = ", ".join(f"{o['label']!r}" for o in options[:20])
            raise StepFailed(f"no option matches {unmatched!r} (options: {offered})")


def match_all(wanted: list[str], options: list[dict[str, str]]) -> tuple[list[str], str | None]:
    """The option value for each wanted value, and the first wanted value nothing matches (None if all do)."""
    chosen: list[str] = []
    for value in wanted:
        match = match_option(value, options)
        if match is None:
            return chosen, value
        chosen.append(match)
    return chosen, None


async def check(step: Step, action: CheckAction, wrapper: InteractionAction) -> None:
    """Make the checkbox or radio checked (nothing happens when it already is)."""
    await perform(step, action, wrapper, lambda locator, timeout: locator.set_checked(True, timeout=timeout))


async def uncheck(step: Step, action: UncheckAction, wrapper: InteractionAction) -> None:
    """Make the checkbox unchecked (nothing happens when it already is)."""
    await perform(step, action, wrapper, lambda locator, timeout: locator.set_checked(False, timeout=timeout))


async def hover(step: Step, action: HoverAction, wrapper: InteractionAction) -> None:
    """Move the mouse over the element."""
    await perform(step, action, wrapper, lambda locator, timeout: locator.hover(timeout=timeout))


def allowed_upload(path_text: str, allowed_dirs: tuple[Path, ...]) -> Path:
    """The file to upload, which must lie inside one of the allowed directories."""
    path = Path(path_text).expanduser()
    candidates = [path] if path.is_absolute() else [d / path for d in allowed_dirs]
    for candidate in candidates:
        resolved = candidate.resolve()
        inside = any(resolved.is_relative_to(d.resolve()) for d in allowed_dirs)
        if inside and resolved.is_file():
            return resolved
        if not inside and path.is_absolute():
            break
    dirs = ", ".join(str(d) for d in allowed_dirs) or "none"
    raise StepFailed(f"file_path {path_text!r} is not a file inside an allowed upload directory ({dirs})")


async def fetch_upload(step: Step, url: str) -> Path:
    """Download file_url through the browser context (its cookies apply) into the run's directory."""
    if not url.startswith(("http://", "https://")):
        raise StepFailed(f"file_url must be an http:// or https:// URL, got {url!r}")
    response = await fetch(step, url, FILE_URL_TIMEOUT_S)
    if not response.ok:
        raise StepFailed(f"file_url answered HTTP {response.status}")
    name = response_filename(url, response.headers, "upload")
    if not Path(name).suffix:
        # Sites often check the extension of what is uploaded: take it from the content type.
        media_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        name += mimetypes.guess_extension(media_type) or ""
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=step.state.writer.out_dir))
    path = folder / name
    path.write_bytes(await response.body())
    return path


async def upload_file(step: Step, action: UploadFileAction, wrapper: InteractionAction) -> None:
    """Give a file to a file input, or to the file chooser that clicking the element opens."""
    if action.file_url:
        path = await fetch_upload(step, step.sub(action.file_url))
    else:
        # The run's own downloads may be given back to the page (download_file, then upload_file).
        allowed = (*step.state.options.upload_dirs, step.state.writer.downloads_dir)
        path = allowed_upload(step.sub(action.file_path or ""), allowed)

    async def give_file(locator: Locator, timeout: float) -> None:
        await locator.wait_for(state="attached", timeout=timeout)
        if await locator.locator(FILE_INPUT).count():
            await locator.set_input_files(path, timeout=timeout)
        else:
            async with step.page.expect_file_chooser(timeout=timeout) as chooser:
                await locator.click(timeout=timeout)
            await (await chooser.value).set_files(path)

    await perform(step, action, wrapper, give_file)
    add_detail(step, f"uploaded {path.name}")


async def key_press(step: Step, action: KeyPressAction, wrapper: InteractionAction) -> None:
    """Press each key (Enter, Tab, Escape, arrows, combinations such as Control+A, F13, BrowserBack) in order."""
    presses = action.presses()
    if action.command is not None or action.xpath is not None:

        async def press_on(locator: Locator, timeout: float) -> None:
            for key in presses:
                await press_one(step, key, locator, timeout)

        await perform(step, action, wrapper, press_on)
    else:
        for key in presses:
            await press_one(step, key, None, action_timeout_ms(wrapper))
    add_detail(step, "pressed " + ", ".join(map(str, presses)))


async def press_one(step: Step, key: str | DevToolsPress, locator: Locator | None, timeout: float) -> None:
    """Press one key on the element (focused first for a key only the DevTools protocol can send), or the page."""
    if isinstance(key, DevToolsPress):
        if locator is not None:
            await locator.focus(timeout=timeout)
        await press_devtools_key(step.page, key, timeout)
    elif locator is not None:
        await locator.press(key, timeout=timeout)
    else:
        await step.page.keyboard.press(key)


def add_detail(step: Step, text: str) -> None:
    """Add to the step's detail, after what the model chose, if it chose the element."""
    step.record.detail = f"{step.record.detail}; {text}" if step.record.detail else text
