"""Finding and launching Chromium: the system's package first, Playwright's own build where it exists."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.async_api import Browser, Playwright

from rebrowse.browser.windows import ScreenArea
from rebrowse.errors import ChromiumNotFound

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

SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


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


async def launch_chromium(
    playwright: Playwright,
    *,
    executable: str | None = None,
    headless: bool = True,
    display: str | None = None,
    new_windows: ScreenArea | None = None,
    proxy: str | None = None,
) -> Browser:
    """Launch Chromium with flags that suit a closed network and a root user; headed on an X display if given,
    where every new window opens on `new_windows` (popups too, whatever position their page asks for). With
    `proxy` (an egress proxy's URL), all its traffic goes through that proxy."""
    path = find_chromium(executable)
    args = list(QUIET_FLAGS)
    if os.geteuid() == 0:
        # Chromium's sandbox cannot start as root.
        args.append("--no-sandbox")
    if new_windows is not None:
        area = new_windows
        args += [f"--window-position={area.left},{area.top}", f"--window-size={area.width},{area.height}"]
    if proxy is not None:
        args += EGRESS_FLAGS
    env: dict[str, str | float | bool] | None = {**os.environ, "DISPLAY": display} if display else None
    try:
        return await playwright.chromium.launch(
            executable_path=path,
            headless=headless,
            args=args,
            env=env,
            proxy={"server": proxy} if proxy is not None else None,
        )
    except Exception as exc:
        if path is None and "Executable doesn't exist" in str(exc):
            raise ChromiumNotFound() from exc
        raise
