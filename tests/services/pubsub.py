"""Session fixture that starts the real Pub/Sub emulator in its own process group (filled in by the queue work)."""
