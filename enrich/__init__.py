"""Enrich: raw records to validated, enriched events and bad rows in the lake."""
