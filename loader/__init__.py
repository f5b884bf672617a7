"""Readers of the lake: load good events into the warehouse and replay bad rows.

load.py          Loader: new good Parquet files → a Destination, in batches, quarantining unreadable files
destinations/    the Destination port (port.py) and its implementations: DuckDB (duckdb.py, duckdb_tables.py)
columns.py       JSON Schema → logical column types, widening rules, per-model column names (shared)
selection.py     reading bad rows from the lake and choosing them (type, schema, error, time)
replay.py        Replayer: bad rows → per-event raw records, re-check, republish, replay manifest
fixes.py         the fix-step language (flows, conditions, Replace/Remove/Cast/Add/Rename)
payload_view.py  tracker parameters opened for editing (ue_px/cx base64, ue_pr/co JSON)
bad_summary.py   `eventkit bad`: counts by type, schema and error over time
cli.py           the Typer apps `load_app`, `replay_app`, `bad_app`
"""
