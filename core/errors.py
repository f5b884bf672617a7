"""The one exception tree of eventkit; third-party errors are translated into it at the boundary.

    EventkitError
    ├── ConfigError                  bad settings or URLs, raised at start-up (names the key)
    ├── IgluParseError               a string is not a SchemaKey / SchemaVer / criterion / SDJ
    ├── TransientError               infrastructure trouble: callers retry, never a verdict on data
    │   ├── QueueUnavailable         publish/pull/ack could not be confirmed
    │   ├── LakeUnavailable          object store read/write failed
    │   └── RegistryUnavailable      a schema repository could not be reached
    └── ObjectExists                 a create-only lake write hit a name already taken

Bad *input* is never an exception: stages return bad rows as values.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EventkitError",
    "IgluParseError",
    "LakeUnavailable",
    "ObjectExists",
    "QueueUnavailable",
    "RegistryUnavailable",
    "TransientError",
]


class EventkitError(Exception):
    """Root of every error eventkit raises on purpose."""


class ConfigError(EventkitError):
    """Invalid configuration; the message names the key and the accepted forms."""


class IgluParseError(EventkitError, ValueError):
    """A string or JSON value that is not a valid Iglu identity or self-describing JSON."""

    def __init__(self, message: str, code: str = "INVALID_IGLUURI") -> None:
        super().__init__(message)
        self.code = code


class TransientError(EventkitError):
    """Infrastructure failure: retry with backoff; never turn it into a bad row."""


class QueueUnavailable(TransientError):
    """The queue could not confirm a publish, pull, ack or nack."""


class LakeUnavailable(TransientError):
    """The lake could not complete a read, list or write."""


class RegistryUnavailable(TransientError):
    """A schema repository could not be reached or answered with an error other than not-found."""


class ObjectExists(EventkitError):
    """A create-only write found the name already taken (names are never reused)."""
