"""Session fixture that starts the real fake-gcs-server in its own process group (filled in by the lake work)."""
