"""Shared test setup: real services (Pub/Sub emulator, fake-gcs-server) come from tests/services as session fixtures."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.services.pubsub", "tests.services.gcs"]

# google-cloud-storage fetches bucket metadata for its telemetry in daemon threads that, against a closed
# port (the unreachable-GCS tests), retry with `random` jitter for minutes: they outlive their test and
# make Hypothesis report `random` use inside the strategies of whichever property test runs next.
os.environ["DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"] = "true"

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
