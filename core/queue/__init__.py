"""Queues carry raw records from the collector to enrich: an embedded SQLite queue and Google Pub/Sub."""
