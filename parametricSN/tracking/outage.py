"""While a tracking server is away: how long it has been, when it answers again, and the two lines that say so.

:class:`Outage` is the state :class:`~parametricSN.tracking.mlflow_logger.MlflowLogger` keeps for an ``http(s)``
store. A call that fails while the server does not answer the probe (:func:`~parametricSN.tracking.preflight.
probe_http`) starts an outage (:meth:`Outage.begin`: one line on stderr, and a daemon thread that probes the server
every :data:`PROBE_EVERY` seconds, so that training never waits on the network); the logger spools meanwhile and,
once the thread has seen an answer (:meth:`Outage.answering`), delivers the spool and ends it (:meth:`Outage.end`:
the second line, with what was delivered).

MLflow's own HTTP retries (7, with exponential backoff: minutes of silence before a call fails) are made short for
such stores by :func:`short_http_retries`: an unanswered call fails in seconds and is spooled instead.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import threading
import time
from typing import Optional, TextIO
from urllib.parse import urlparse

from parametricSN.tracking.preflight import TrackingError, probe_http

PROBE_EVERY = 2.0  # seconds between probes while the server is away
PROBE_TIMEOUT = 3.0
# MLflow's HTTP client settings for a store whose outages are spooled (a user's own values win): one immediate retry
# and a 20 s socket timeout, instead of 7 retries with exponential backoff (about 4 min) and 120 s: a call the server
# does not answer fails in well under a second (a refused connection) and is spooled; a blip costs nothing more
HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def is_server(uri: str) -> bool:
    return urlparse(uri).scheme in ("http", "https")


def short_http_retries() -> None:
    """Set :data:`HTTP_SETTINGS` where the environment does not set them, and keep urllib3's "Retrying ..."
    warnings (one per retry, on stderr) out of the run's one-line-per-event output."""
    for name, value in HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def answers(uri: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether the tracking server ``uri`` answers a short request."""
    try:
        probe_http(uri, timeout)
    except TrackingError:
        return False
    return True


def duration(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))


class Outage:
    """The outage state of one run's logger on the server ``uri``; lines go to ``stream`` (default stderr)."""

    def __init__(self, uri: str, stream: Optional[TextIO] = None) -> None:
        self.uri = uri
        self.stream = stream
        self.since: Optional[float] = None  # time.monotonic() when the server stopped answering
        self.answered: Optional[float] = None  # ... and when the prober saw it answer again
        self._answered = threading.Event()
        self._stop = threading.Event()

    @property
    def active(self) -> bool:
        return self.since is not None

    def seconds(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since

    def begin(self, run_id: str, spool_folder: str, limit: float) -> None:
        """The server stopped answering: print the first line and start probing."""
        self.since = time.monotonic()
        self._say(
            f"psn: run {run_id}: the tracking server {self.uri} stopped answering; training goes on, keeping its "
            f"metrics and checkpoints in {spool_folder} until it is back (for up to mlflow.outage_limit="
            f"{limit:g} s)"
        )
        self._probe()

    def answering(self) -> bool:
        """Whether the prober has seen the server answer since it last looked (then the caller delivers)."""
        return self._answered.is_set()

    def still_away(self) -> None:
        """A delivery failed again: keep probing."""
        self._probe()

    def end(self, run_id: str, points: int, files: int) -> None:
        """The spool went through: print the second line."""
        assert self.since is not None
        away = (self.answered or time.monotonic()) - self.since
        self._say(
            f"psn: run {run_id}: the tracking server {self.uri} answers again after {duration(away)}; delivered "
            f"{points} metric points and {files} files kept meanwhile (in {duration(time.monotonic() - self.since - away)})"
        )
        self.since = self.answered = None

    def close(self) -> None:
        """Stop probing (the run is over)."""
        self._stop.set()

    def _probe(self) -> None:
        self._answered.clear()
        threading.Thread(target=self._watch, name="psn-tracking-probe", daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.wait(PROBE_EVERY):
            if answers(self.uri):
                self.answered = time.monotonic()
                self._answered.set()
                return

    def _say(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)
