"""Real services the tests start and stop themselves: the Pub/Sub emulator and fake-gcs-server."""
