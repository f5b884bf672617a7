"""The schema registry: resolver, validators, lint, SchemaVer-safe publishing and the Iglu-compatible API."""
