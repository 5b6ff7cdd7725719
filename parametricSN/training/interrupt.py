"""Stopping a run on SIGINT (Ctrl-C) or SIGTERM (a scheduler, ``kill``) without losing it.

Inside :func:`graceful_stop` the first signal only *requests* a stop. :func:`parametricSN.training.loop.fit`
finishes the epoch in progress (its training pass, test and logging), writes a checkpoint atomically and raises
:class:`RunInterrupted`; the run is then closed KILLED and ``psn train --resume RUN_ID`` continues it.

Why finish the epoch rather than only the current optimizer step: the data order and augmentation are a
function of ``(seed, epoch, index)`` and a checkpoint records completed epochs, so a checkpoint at an epoch
boundary resumes bit-identically without recording a position inside an epoch, half-summed epoch metrics and a
DataLoader mid-iteration. Small-sample epochs take seconds. A second signal stops at once (:class:`Terminated`;
the run resumes from its last checkpoint), except while a checkpoint is being written (:func:`critical`),
which is completed first.

Without :func:`graceful_stop` (a notebook calling ``train``), signals keep Python's default behaviour.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

HANDLED = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """A stop was requested by signal ``signum``; the run stopped after ``epoch`` with a checkpoint saved.
    ``run_id`` is filled in by ``train``."""

    def __init__(self, signum: int, epoch: int) -> None:
        super().__init__(f"interrupted by signal {signal.Signals(signum).name} after epoch {epoch}, checkpoint saved")
        self.signum, self.epoch, self.run_id = signum, epoch, ""


class Terminated(KeyboardInterrupt):
    """A second signal: stop now, without a new checkpoint."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped at once by a second signal {signal.Signals(signum).name}")
        self.signum, self.run_id = signum, ""


class _State:
    signum: Optional[int] = None
    critical = 0
    pending: Optional[int] = None


_state = _State()


def stop_requested() -> Optional[int]:
    """The signal number of a pending stop request, or None."""
    return _state.signum


def _handler(signum: int, frame: object) -> None:
    if _state.signum is None:
        _state.signum = signum
        if sys.stderr.isatty():  # a person waiting at a terminal; logs of a scheduler get only the final line
            print(
                f"psn: {signal.Signals(signum).name}: finishing the current epoch, then saving a checkpoint "
                "(send it again to stop at once)",
                file=sys.stderr,
                flush=True,
            )
    elif _state.critical:
        _state.pending = signum
    else:
        raise Terminated(signum)


@contextmanager
def critical() -> Iterator[None]:
    """Defer an immediate stop (second signal) until the block (writing a checkpoint) is done."""
    _state.critical += 1
    try:
        yield
    finally:
        _state.critical -= 1
        if not _state.critical and _state.pending is not None:
            signum, _state.pending = _state.pending, None
            raise Terminated(signum)


@contextmanager
def graceful_stop() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM request a stop at the end of the epoch (see module docstring).
    Outside the main thread signals cannot be handled and nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in HANDLED}
    _state.signum, _state.pending, _state.critical = None, None, 0
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _state.signum, _state.pending = None, None
