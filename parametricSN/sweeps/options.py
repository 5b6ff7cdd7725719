"""Defaults of ``psn sweep``'s options that the modules implementing them share, in a module that imports nothing
(the parser is built by every ``psn`` call; those modules import MLflow)."""

MAX_LOSSES = 3  # a task (a tune trial) lost with its Ray node this often ends FAILED (the next run continues it)
DEFAULT_TIMEOUT = 180.0  # seconds: a RUNNING run whose heartbeat is older is dead (see claims)
