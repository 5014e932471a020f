"""`python -m rebrowse.worker`: one worker process, configured like `rebrowse worker` from the environment."""

from __future__ import annotations

import argparse
import asyncio
import logging

from rebrowse.server import runtime, stop_on_signals
from rebrowse.settings import ServerSettings
from rebrowse.worker.process import run_worker


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, whose values override the environment."""
    parser = argparse.ArgumentParser(prog="python -m rebrowse.worker", description=__doc__)
    parser.add_argument("--slots", type=int, default=None, help="concurrent tasks (one Chromium each)")
    parser.add_argument("--heartbeat-interval", type=float, default=None, help="seconds between heartbeats")
    parser.add_argument("--stalled-after", type=float, default=None, help="seconds of silence before a worker is dead")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    """Run a worker until SIGTERM or SIGINT."""
    args = parse_args(argv)
    settings = ServerSettings.from_env(
        slots=args.slots, heartbeat_interval_s=args.heartbeat_interval, stalled_after_s=args.stalled_after
    )
    stop = asyncio.Event()
    stop_on_signals(stop)
    async with runtime(settings) as rt:
        await run_worker(settings, db=rt.db, queue=rt.queue, stop=stop, sealer=rt.sealer)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main())
