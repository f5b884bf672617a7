"""Adapters: turn one collector payload into raw events, keyed by the (vendor, version) on the wire."""
