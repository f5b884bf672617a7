"""Readers of the lake: load good events into the warehouse and replay bad rows."""
