"""The schema registry: resolver, validators, lint, SchemaVer-safe publishing and the Iglu-compatible API."""

from core import native as _native

_native.install()
