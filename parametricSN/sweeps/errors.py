"""The error of a malformed sweep spec (its own module: the spec reader and its ``search:`` section both raise it)."""

from __future__ import annotations

from parametricSN.config import ConfigError


class SpecError(ConfigError):
    """A sweep spec is malformed; the message names the file and the key."""
