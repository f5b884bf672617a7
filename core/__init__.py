"""The stage-independent kernel: Iglu, the raw record, the enriched-event contract, bad rows, ports, settings."""

from core import native as _native

_native.install()
