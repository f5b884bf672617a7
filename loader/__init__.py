"""Readers of the lake: load good events into the warehouse and replay bad rows.

load.py          Loader: new good Parquet files → DuckDB `events`, set-wise, typed, deduplicated, manifest
columns.py       JSON Schema → DuckDB types, widening rules, per-model column names
warehouse.py     the DuckDB file: tables, typed-column bookkeeping, lock-sharing open
selection.py     reading bad rows from the lake and choosing them (type, schema, error, time)
replay.py        Replayer: bad rows → per-event raw records, re-check, republish, replay manifest
fixes.py         the fix-step language (flows, conditions, Replace/Remove/Cast/Add/Rename)
payload_view.py  tracker parameters opened for editing (ue_px/cx base64, ue_pr/co JSON)
bad_summary.py   `eventkit bad`: counts by type, schema and error over time
cli.py           the Typer apps `load_app`, `replay_app`, `bad_app`
"""
