"""training.console: SIGTERM stops a command as Ctrl-C does, in the command's own process only."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from multiprocessing.synchronize import Event

import pytest

from training.console import sigterm_as_interrupt


def sleep_after_saying_so(started: Event) -> None:
    started.set()
    time.sleep(30)


def test_sigterm_in_the_command_is_a_keyboard_interrupt_and_the_handler_is_put_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler runs between two bytecodes: well before this ends
    assert signal.getsignal(signal.SIGTERM) == before


def test_sigterm_ends_a_worker_forked_by_the_command_as_it_does_by_default() -> None:
    # cleanlab's pool forks its workers inside `audit` and stops them with SIGTERM; a worker that raised
    # KeyboardInterrupt instead once ran on as a second copy of the test session (CI hung for 90 minutes).
    fork = multiprocessing.get_context("fork")
    started = fork.Event()
    with sigterm_as_interrupt():
        worker = fork.Process(target=sleep_after_saying_so, args=(started,))
        worker.start()
        assert started.wait(10)
        worker.terminate()
        worker.join(10)
    assert worker.exitcode == -signal.SIGTERM  # killed by the signal, not exit status 1 from a traceback
