"""Lakes hold enriched events and bad rows as create-only objects: a local folder or Google Cloud Storage."""
