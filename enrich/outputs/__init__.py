"""Enrich's outputs to the lake: good events as Parquet (and optional Snowplow TSV), bad rows as JSON lines.

    good/date=YYYY-MM-DD/hour=HH/<opened ms>-<writer id>-<seq>.parquet
    good-tsv/date=YYYY-MM-DD/hour=HH/<...>.tsv                 (optional)
    pii/date=YYYY-MM-DD/hour=HH/<...>.parquet                  (PII enrichment emitEvent)
    bad/<bad-row type>/date=YYYY-MM-DD/hour=HH/<...>.jsonl

Modules: `rolling` (cut on count, bytes or age), `parquet` / `tsv` (file encoders), `lake_writer` (the
set of rolling files of one worker), `commit` (create-only writes retried with backoff). Partition and
part naming (`core.lake.partitions`) and the bad-row JSON-lines encoding (`core.lake.jsonl`) live in
core, because the loader's replay writes to the same lake layout.

The package re-exports nothing: importing one module (`rolling`, say) must not load Arrow, so a process
that only needs a cut policy (`eventkit up`'s server) does not pay for it.
"""
