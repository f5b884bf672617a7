"""eventkit up's composition root: every stage on one machine, the Micro API and store; nothing imports it.

`embedded` is the top floor of the stack `core ← registry ← {collector, enrich} ← loader ← embedded`:
it wires the collector and the registry API into one ASGI app and enrich and the loader into supervised
child processes (`embedded.up`, `embedded.up_children`), serves Snowplow Micro's API over a bounded
SQLite store (`embedded.micro`, `embedded.micro_store`) and owns the `eventkit up` command
(`embedded.cli`, reached only through the import string in core/cli.py's command map). Being the top
floor, it may import every stage and no stage may import it (tests/test_layers.py). The web console
(a later issue) will live here too.
"""
