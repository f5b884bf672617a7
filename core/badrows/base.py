"""What every bad row shares: the envelope, JSON and bytes, the failure timestamp, and readers for parsing.

A bad row is `{"schema": <its current iglu URI>, "data": {"processor", "failure", "payload"}}`. The
concrete types live in raw_rows (payload: a whole raw record or its text), event_rows (payload: one
event) and loader_rows; each one's constructor fits every value to its published schema, so
building a row never fails on bad *input*, only on a programming error (e.g. a message variant the
type does not allow).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

import orjson

from core.badrows.messages import message_from_json
from core.badrows.processor import Processor
from core.iglu import SchemaKey
from core.raw import parse_instant

__all__ = [
    "BADROWS_VENDOR",
    "BadRowBase",
    "TimestampedRow",
    "badrow_schema",
    "check_instant",
    "checked_messages",
    "parsed_messages",
    "read_instant",
    "read_int",
    "read_object",
    "read_string",
]

BADROWS_VENDOR = "com.snowplowanalytics.snowplow.badrows"
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_INSTANT_MS = 253402300799999  # 9999-12-31T23:59:59.999Z, the last instant ISO-8601 can write


def badrow_schema(name: str, version: str) -> SchemaKey:
    return SchemaKey.parse(f"iglu:{BADROWS_VENDOR}/{name}/jsonschema/{version}")


def check_instant(ms: int) -> None:
    if not 0 <= ms <= _MAX_INSTANT_MS:
        raise ValueError(f"timestamp {ms} ms is outside 1970..9999")


class BadRowBase:
    """What every bad row offers: its type name, schema, JSON form, bytes, and whether replay can use it."""

    __slots__ = ()
    type_name: ClassVar[str]
    schema: ClassVar[SchemaKey]
    recoverable: ClassVar[bool]
    processor: Processor

    @property
    def failure_timestamp_ms(self) -> int | None:
        """When the failure happened (epoch ms); None for types whose failure has no timestamp."""
        return None

    def failure_json(self) -> Any:
        raise NotImplementedError

    def payload_json(self) -> Any:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        data = {"processor": self.processor.to_json(), "failure": self.failure_json(), "payload": self.payload_json()}
        return {"schema": self.schema.uri, "data": data}

    def encode(self) -> bytes:
        """Compact JSON, one line of a bad/<type>/ file.

        A lone surrogate (which stdlib json.loads can produce from `"\\ud800"`) cannot be written as
        UTF-8; such characters become U+FFFD rather than crashing the stage.
        """
        doc = self.to_json()
        try:
            return orjson.dumps(doc)
        except orjson.JSONEncodeError:
            return orjson.dumps(_without_surrogates(doc))


class TimestampedRow(BadRowBase):
    __slots__ = ()
    timestamp_ms: int

    @property
    def failure_timestamp_ms(self) -> int | None:
        return self.timestamp_ms


def checked_messages(messages: Any, allowed: tuple[type, ...], type_name: str) -> tuple[Any, ...]:
    out = tuple(messages)
    for m in out:
        if not isinstance(m, allowed):
            raise ValueError(f"{type_name} cannot carry a {type(m).__name__}")
    return out


def parsed_messages(failure: dict[str, Any], read: Callable[[Any], Any] = message_from_json) -> tuple[Any, ...]:
    raw = failure.get("messages")
    if not isinstance(raw, list):
        raise ValueError("failure.messages: expected a list")
    return tuple(read(m) for m in raw)


def read_object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"{key}: expected a JSON object")
    return value


def read_string(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string")
    return value


def read_int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key}: expected an integer")
    return value


def read_instant(failure: dict[str, Any]) -> int:
    return parse_instant(read_string(failure, "timestamp"))


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    return value
