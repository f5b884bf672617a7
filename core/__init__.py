"""The stage-independent kernel: Iglu, the raw and enriched event contracts, bad rows, ports, settings, telemetry."""
