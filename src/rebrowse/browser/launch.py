"""Finding and launching Chromium: the system's package first, Playwright's own build where it exists."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.async_api import Browser, BrowserType, Playwright

from rebrowse.browser.windows import ScreenArea
from rebrowse.errors import ChromiumNotFound, RebrowseError

# Chromium reaches out to Google services at start; on a closed network that only costs time and noise.
QUIET_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
)

# With an egress proxy, nothing of the browser may go around it: no WebRTC UDP (ICE/STUN) and no QUIC.
EGRESS_FLAGS = (
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-quic",
)

NO_SANDBOX_MESSAGE = "No usable sandbox"  # what Chromium says when neither user namespaces nor a setuid helper work
SANDBOX_HELP = (
    "Chromium's sandbox cannot start for this user: allow unprivileged user namespaces"
    " (sysctl kernel.unprivileged_userns_clone=1, or a container runtime that permits them)"
)

SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROME_CANDIDATES = ("google-chrome", "google-chrome-stable")


class ChromiumUnsandboxable(RebrowseError):
    """Chromium cannot run sandboxed here, and rebrowse does not run it unsandboxed as anyone but root."""


def find_chromium(configured: str | None = None) -> str | None:
    """The Chromium executable to use: the configured path, else one on PATH; None means Playwright's own."""
    if configured:
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return configured
        raise ChromiumNotFound(f"REBROWSE_CHROMIUM={configured} is not an executable file")
    for name in SYSTEM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def find_chrome(configured: str | None = None) -> str | None:
    """Google Chrome's executable for automations that ask for it: the configured path (REBROWSE_CHROME_PATH) when it
    is an executable file, else one on PATH when nothing is configured; None when there is none."""
    if configured:
        return configured if Path(configured).is_file() and os.access(configured, os.X_OK) else None
    found = (shutil.which(name) for name in CHROME_CANDIDATES)
    return next((path for path in found if path), None)


async def launch_chromium(
    playwright: Playwright | BrowserType,
    *,
    executable: str | None = None,
    headless: bool = True,
    display: str | None = None,
    xauthority: Path | None = None,
    new_windows: ScreenArea | None = None,
    proxy: str | None = None,
) -> Browser:
    """Launch Chromium with flags that suit a closed network, sandboxed unless we are root; headed on an X display
    if given (with its authority file), where every new window opens on `new_windows` (popups too, whatever
    position their page asks for). With `proxy` (an egress proxy's URL), all its traffic goes through that proxy."""
    path = find_chromium(executable)
    args = list(QUIET_FLAGS)
    sandboxed = os.geteuid() != 0
    if not sandboxed:
        # Chromium's sandbox cannot start as root.
        args.append("--no-sandbox")
    if new_windows is not None:
        area = new_windows
        args += [f"--window-position={area.left},{area.top}", f"--window-size={area.width},{area.height}"]
    if proxy is not None:
        args += EGRESS_FLAGS
    browser_type = playwright.chromium if isinstance(playwright, Playwright) else playwright
    try:
        # Playwright turns Chromium's sandbox off unless asked to keep it.
        return await browser_type.launch(
            executable_path=path,
            headless=headless,
            args=args,
            env=x_env(display, xauthority),
            chromium_sandbox=sandboxed,
            proxy={"server": proxy} if proxy is not None else None,
        )
    except Exception as exc:
        if path is None and "Executable doesn't exist" in str(exc):
            raise ChromiumNotFound() from exc
        if sandboxed and NO_SANDBOX_MESSAGE in str(exc):
            raise ChromiumUnsandboxable(SANDBOX_HELP) from None
        raise


def x_env(display: str | None, xauthority: Path | None) -> dict[str, str | float | bool] | None:
    """The environment of a Chromium on an X display: the display and the authority file that lets it connect."""
    if not display:
        return None
    env: dict[str, str | float | bool] = {**os.environ, "DISPLAY": display}
    if xauthority is not None:
        env["XAUTHORITY"] = str(xauthority)
    return env
