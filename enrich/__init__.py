"""Enrich: raw records to validated, enriched events and bad rows in the lake."""

from core import native as _native

_native.install()
