"""The stage-independent kernel: Iglu identities, the raw record, bad rows, ports, settings, telemetry."""
