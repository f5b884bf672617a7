"""Enrich's outputs to the lake: good events as Parquet (and optional Snowplow TSV), bad rows as JSON lines.

    good/date=YYYY-MM-DD/hour=HH/<opened ms>-<writer id>-<seq>.parquet
    good-tsv/date=YYYY-MM-DD/hour=HH/<...>.tsv                 (optional)
    pii/date=YYYY-MM-DD/hour=HH/<...>.parquet                  (PII enrichment emitEvent)
    bad/<bad-row type>/date=YYYY-MM-DD/hour=HH/<...>.jsonl

Modules: `rolling` (cut on count, bytes or age), `parquet` / `tsv` (file encoders), `lake_writer` (the
set of rolling files of one worker), `commit` (create-only writes retried with backoff). Partition and
part naming (`core.lake.partitions`) and the bad-row JSON-lines encoding (`core.lake.jsonl`) live in
core, because the loader's replay writes to the same lake layout.
"""

from __future__ import annotations

from core.lake.partitions import PartNamer, hour_partition
from enrich.outputs.commit import Backoff, commit_file
from enrich.outputs.lake_writer import BAD_ROOT, GOOD_ROOT, GOOD_TSV_ROOT, PII_ROOT, LakeWriter
from enrich.outputs.parquet import GOOD_SCHEMA, decode_parquet, encode_parquet
from enrich.outputs.rolling import CutPolicy, PendingFile, RollingFile

__all__ = [
    "BAD_ROOT",
    "GOOD_ROOT",
    "GOOD_SCHEMA",
    "GOOD_TSV_ROOT",
    "PII_ROOT",
    "Backoff",
    "CutPolicy",
    "LakeWriter",
    "PartNamer",
    "PendingFile",
    "RollingFile",
    "commit_file",
    "decode_parquet",
    "encode_parquet",
    "hour_partition",
]
