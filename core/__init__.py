"""The stage-independent kernel: Iglu identities, the raw record, bad rows, ports, settings, telemetry."""

from core import native as _native

_native.install()
