"""``python -m service [--host H] [--port P] [--workers N]``: run the API under uvicorn.

`topicframe serve` executes this module in place of itself, so a serving
process holds only what serving needs, not the command line's and training's
imports (typer, rich, the evaluation code): about 15 MB less per worker. It
imports nothing of the app itself: with ``--workers N`` this process only
supervises the N worker processes, each of which imports the app.

The server's limits (head size, head/body timeouts, keep-alive, graceful
shutdown) come from `service.settings.ServerSettings`; see `service.server`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from service.logs import configure_logging
from service.server import build_config
from service.settings import settings_from_environment


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, checked: a bad value exits with status 2 and its message before anything starts."""
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not 1 <= args.port <= 65535:  # uvicorn would report "running on http://127.0.0.1:99999"
        parser.error(f"--port must be between 1 and 65535, got {args.port}")
    return args


class Supervisor(Multiprocess):
    """uvicorn's ``--workers`` supervisor, which also stops listening when told to stop.

    Each worker closes its copy of the listening socket as its graceful shutdown starts, but the supervisor kept
    its own: while workers finished their requests (up to TOPICFRAME_GRACEFUL_SHUTDOWN_SECONDS), new connections
    were accepted into the kernel's queue, hung, and were reset at the exit (a tester: 34 of 40). Closed here,
    they are refused at once, as with one worker. The signal is raised again at the end, so the exit status says
    it (143 for SIGTERM) with any number of workers.
    """

    stopped_by: int | None = None

    def _stop(self, signum: int) -> None:
        self.stopped_by = signum
        for sock in self.sockets:
            sock.close()

    def handle_term(self) -> None:
        self._stop(signal.SIGTERM)
        super().handle_term()

    def handle_int(self) -> None:
        self._stop(signal.SIGINT)
        super().handle_int()

    def keep_subprocess_alive(self) -> None:
        """Replace dead workers (uvicorn), and drop a dead worker's live gauges from the shared metrics directory:
        killed, it could not do so itself, and /metrics showed it serving its old version for good."""
        before = {process.pid for process in self.processes}
        super().keep_subprocess_alive()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            for pid in before - {process.pid for process in self.processes}:
                if pid is not None:
                    multiprocess.mark_process_dead(pid)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure_logging("info")  # the supervisor's own lines (workers started, died, refused) as JSON too
    os.environ["TOPICFRAME_WORKERS"] = str(args.workers)  # so each worker's Settings knows the count
    # Every setting checked here, before a worker starts: a bad one is a line naming its variable, not a traceback.
    config = build_config(settings_from_environment(), args.host, args.port, args.workers)
    if args.workers == 1:
        uvicorn.Server(config).run()  # in this process; a refused model exits it with status 3
        return
    # What uvicorn.run does for several workers, plus the exit status: when a worker refused to start,
    # uvicorn stops the other workers and returns normally; say so to whoever started the service.
    with tempfile.TemporaryDirectory(prefix="topicframe-reload-") as signals:
        # An admin reload reaches one worker; this file tells the others (service.main.keep_model_loaded).
        os.environ.setdefault("TOPICFRAME_RELOAD_SIGNAL_FILE", os.path.join(signals, "reload"))
        supervisor = Supervisor(config, sockets=[config.bind_socket()])
        supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        sys.exit(STARTUP_FAILURE)
    if supervisor.stopped_by is not None:  # as uvicorn's single-process server does after its shutdown
        signal.signal(supervisor.stopped_by, signal.SIG_DFL)
        signal.raise_signal(supervisor.stopped_by)


if __name__ == "__main__":
    main()
