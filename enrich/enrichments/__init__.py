"""Enrichments: configurable steps that add derived fields and contexts to an event.

The plug-in map and the loader of a folder of configs are in `enrich.enrichments.registry`
(`load_enrichments`, `load_enrichment_setup`); the contract an enrichment implements is
`enrich.enrichments.base`. This package module imports nothing, so importing one enrichment does
not import them all.
"""
