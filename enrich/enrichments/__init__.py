"""Enrichments: configurable steps that add derived fields and contexts to an event."""
