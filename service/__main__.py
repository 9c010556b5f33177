"""``python -m service [--host H] [--port P] [--workers N]``: run the API under uvicorn.

`topicframe serve` executes this module in place of itself, so a serving
process holds only what serving needs, not the command line's and training's
imports (typer, rich, the evaluation code): about 15 MB less per worker. It
imports nothing of the app itself: with ``--workers N`` this process only
supervises the N worker processes, each of which imports the app.
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from service.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    configure_logging("info")  # the supervisor's own lines (workers started, died, refused) as JSON too
    os.environ["TOPICFRAME_WORKERS"] = str(args.workers)  # so each worker's Settings knows the count
    config = uvicorn.Config(
        "service.main:create_served_app",  # an import string: each worker process builds the app itself
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,  # the app logs JSON lines itself (service.logs)
        access_log=False,  # one JSON line per request comes from the app's middleware instead
        ws="none",  # no websocket routes: do not import a websocket implementation
        lifespan="on",
    )
    if args.workers == 1:
        uvicorn.Server(config).run()  # in this process; a refused model exits it with status 3
        return
    # What uvicorn.run does for several workers, plus the exit status: when a worker refused to start,
    # uvicorn stops the other workers and returns normally; say so to whoever started the service.
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
