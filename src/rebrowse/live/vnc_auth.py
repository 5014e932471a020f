"""The password that guards each slot's VNC server.

Every x11vnc asks for a password (RFB's VNC authentication), so that its port is useless to anyone who can reach
it without a stream token: another user on the worker's machine, or the private network when x11vnc listens on
one. The password is derived from the deployment's secret key and the server's address, so that the worker and
the API compute it alone and it is stored nowhere. The stream bridge authenticates to x11vnc and offers the
viewer security type None: noVNC connects with its stream URL alone, as with Optexity.
"""

from __future__ import annotations

import string

from rebrowse.live.rfb import PASSWORD_LENGTH
from rebrowse.store.sealing import Sealer
from rebrowse.store.worker_slots import VncAddress

ALPHABET = string.ascii_letters + string.digits


def vnc_password(sealer: Sealer, address: VncAddress) -> str:
    """The password of the VNC server at `address`: only holders of the deployment's key can compute it."""
    digest = sealer.derive(f"vnc:{address.host}:{address.port}")
    return "".join(ALPHABET[byte % len(ALPHABET)] for byte in digest[:PASSWORD_LENGTH])
