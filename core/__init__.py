"""The stage-independent kernel: Iglu, the raw and enriched event contracts, bad rows, ports, settings, telemetry."""

from core import native as _native

_native.install()
