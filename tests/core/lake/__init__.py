"""Tests of the lake port and its two implementations (local folder, GCS via fake-gcs-server)."""
