"""The console: web pages over the Micro store, the lake's bad rows, the registry and the stages' metrics.

`eventkit up` serves it at `/` beside the tracker routes (embedded/up.py dispatches `/`, `/console/...`
and `/favicon.ico` here); `eventkit console` serves the same pages on their own for a data folder or a
lake + registry (+ warehouse). Server-rendered HTML (Jinja2, autoescaped), one stylesheet and one small
script, all in this package: nothing is fetched from the internet at run time.
"""

from embedded.console.app import create_console
from embedded.console.sources import ConsoleSources

__all__ = ["ConsoleSources", "create_console"]
