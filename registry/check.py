"""Impact before publishing: run a candidate schema over recent lake data to see who it would break or fix.

The candidate is linted first (an invalid schema is refused, not run). Good events
(`good/date=YYYY-MM-DD/hour=HH/*.parquet`) carry their self-describing entities in the
`unstruct_event` and `contexts` columns; every entity of the candidate's vendor/name (any version)
seen since the cutoff is validated against the candidate: it *would pass* or *would newly fail*
(it passed its own version when enriched). Each event counts once: the lake may hold an event twice
(redelivery, a replay sent again), and the loader keeps one per `(event_id, event_fingerprint)`, so
this does too. Schema-violation bad rows (`bad/schema_violations/date=.../hour=.../*.jsonl`) that
failed on the candidate's model (same vendor/name/format and MODEL: a replay can point them at the
candidate, a new model is another contract) are re-checked from their raw tracker parameters
(`ue_pr`/`ue_px`, `co`/`cx`): a row is *fixed* when every such entity now validates and it failed for
no other schema. Rows a replay already handled (the manifest under `replayed/`) and repeats of one
event (the same `eid`) are not counted again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.errors import ConfigError, IgluParseError
from core.iglu import SchemaKey
from core.progress import Progress
from registry.lint import lint_schema, schema_key_of

__all__ = ["ImpactReport", "InvalidCandidate", "check_impact", "parse_since", "proven_candidate"]

_PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/")
_SINCE = re.compile(r"^(\d+)([dhm])$")
_EXAMPLES = 5


class InvalidCandidate(ConfigError):
    """The candidate schema itself is unusable (no self block, lint errors): nothing was checked."""


def parse_since(text: str) -> timedelta:
    """`7d`, `12h` or `30m` as a timedelta; ConfigError for anything else."""
    m = _SINCE.match(text.strip())
    if m is None:
        raise ConfigError(f"--since: {text!r} is not a duration; accepted forms: 7d, 12h, 30m")
    n, unit = int(m.group(1)), m.group(2)
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]


@dataclass(slots=True)
class ImpactReport:
    """Counts and a few examples of what publishing the candidate would change."""

    candidate: str
    since: str
    entities_checked: int = 0
    would_pass: int = 0
    would_newly_fail: int = 0
    entities_other_model: int = 0  # entities of another MODEL: publishing the candidate does not touch them
    duplicate_events: int = 0  # good events seen again (same event_id and fingerprint), not counted twice
    bad_rows_checked: int = 0
    bad_rows_fixed: int = 0
    bad_rows_still_failing: int = 0
    bad_rows_replayed: int = 0  # handled by an earlier replay: neither fixed nor failing
    bad_rows_duplicate: int = 0  # another bad row of an event already counted
    bad_rows_other_model: int = 0  # failed on another MODEL of this schema: the candidate cannot fix them
    by_version: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "since": self.since,
            "good": {
                "entitiesChecked": self.entities_checked,
                "wouldPass": self.would_pass,
                "wouldNewlyFail": self.would_newly_fail,
                "duplicatesSkipped": self.duplicate_events,
                "otherModel": self.entities_other_model,
                "byVersion": self.by_version,
            },
            "bad": {
                "rowsChecked": self.bad_rows_checked,
                "wouldFix": self.bad_rows_fixed,
                "stillFailing": self.bad_rows_still_failing,
                "alreadyReplayed": self.bad_rows_replayed,
                "duplicatesSkipped": self.bad_rows_duplicate,
                "otherModel": self.bad_rows_other_model,
            },
            "examples": self.failures,
        }

    def summary(self) -> str:
        lines = [
            f"candidate {self.candidate}, events since {self.since}",
            f"good entities checked: {self.entities_checked}: would pass {self.would_pass}, "
            f"would newly fail {self.would_newly_fail}",
        ]
        for version, counts in sorted(self.by_version.items()):
            lines.append(f"  recorded as {version}: pass {counts['pass']}, fail {counts['fail']}")
        if self.duplicate_events:
            lines.append(f"  repeated events skipped (same event_id and fingerprint): {self.duplicate_events}")
        if self.entities_other_model:
            lines.append(f"  entities of another MODEL, unaffected by this candidate: {self.entities_other_model}")
        lines.append(
            f"bad rows checked: {self.bad_rows_checked}: would fix {self.bad_rows_fixed} once replayed against it, "
            f"still failing {self.bad_rows_still_failing}"
        )
        skipped = [
            (self.bad_rows_replayed, "already replayed"),
            (self.bad_rows_duplicate, "repeats of a counted event"),
            (self.bad_rows_other_model, "failed on another MODEL, which this candidate cannot fix"),
        ]
        for count, why in skipped:
            if count:
                lines.append(f"  not counted: {count} {why}")
        for example in self.failures:
            lines.append(f"  newly failing ({example['schema']}): {example['error']}")
        return "\n".join(lines)


def proven_candidate(candidate: dict[str, Any]) -> SchemaKey:
    """The candidate's key, once it is a usable schema; InvalidCandidate (no self block, lint errors) otherwise."""
    key = schema_key_of(candidate)
    if key is None:
        raise InvalidCandidate("the candidate declares no valid self block (vendor/name/format/version)")
    errors = [f for f in lint_schema(candidate) if f.level == "ERROR"]
    if errors:
        shown = "; ".join(f"{f.pointer}: {f.message}" for f in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise InvalidCandidate(f"the candidate is not a valid schema: {shown}{more}")
    return key


def check_impact(
    candidate: dict[str, Any],
    lake_url: str,
    *,
    since: timedelta,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ImpactReport:
    """Validate recent good entities and matching bad rows of the candidate's vendor/name against it.

    `progress` (the CLI's line on stderr) is started with the number of files to read and advanced
    by each file and its rows.
    """
    from core.lake import open_lake
    from core.lake.parquet import read_parquet

    key = proven_candidate(candidate)
    from registry.instances import validator_for

    validator = validator_for(candidate)  # as enrich validates: checked formats, decimal multipleOf
    cutoff = (now or datetime.now(UTC)) - since
    report = ImpactReport(candidate=key.uri, since=cutoff.isoformat())
    lake = open_lake(lake_url)

    good_files = [n for n in lake.list("good/") if n.endswith(".parquet") and _recent(n, cutoff)]
    bad_files = [n for n in lake.list("bad/schema_violations/") if n.endswith(".jsonl") and _recent(n, cutoff)]
    if progress is not None and (good_files or bad_files):
        progress.start(len(good_files) + len(bad_files))
    seen_events: set[tuple[Any, Any]] = set()
    for name in good_files:
        if progress is not None:
            progress.advance(0, current=name)
        table = read_parquet(lake.read(name))
        columns = set(table.column_names)
        wanted = [
            c
            for c in ("unstruct_event", "contexts", "collector_tstamp", "event_id", "event_fingerprint")
            if c in columns
        ]
        for row in table.select(wanted).to_pylist():
            stamp = row.get("collector_tstamp")
            if isinstance(stamp, datetime) and _aware(stamp) < cutoff:
                continue
            if row.get("event_id") is not None:
                identity = (row["event_id"], row.get("event_fingerprint"))
                if identity in seen_events:
                    report.duplicate_events += 1
                    continue
                seen_events.add(identity)
            for entity_key, data in _entities(row.get("unstruct_event"), row.get("contexts")):
                if (entity_key.vendor, entity_key.name, entity_key.format) != (key.vendor, key.name, key.format):
                    continue
                if entity_key.version.model != key.version.model:
                    report.entities_other_model += 1  # validated against their own model, not this candidate
                    continue
                _count(report, validator, entity_key, data)
        if progress is not None:
            progress.advance(1, rows=table.num_rows)

    replayed = _replayed_row_ids(lake)
    seen_rows: set[str] = set()
    for name in bad_files:
        if progress is not None:
            progress.advance(0, current=name)
        lines = lake.read(name).splitlines()
        for line in lines:
            if line.strip():
                _check_bad_row(report, validator, key, line, replayed=replayed, seen=seen_rows)
        if progress is not None:
            progress.advance(1, rows=len(lines))
    return report


def _replayed_row_ids(lake: Any) -> set[str]:
    """Bad rows an earlier `eventkit replay` handled: the manifest lines under `replayed/` (loader/replay.py)."""
    ids: set[str] = set()
    for name in lake.list("replayed/"):
        if not name.endswith(".jsonl"):
            continue
        for line in lake.read(name).splitlines():
            try:
                entry = orjson.loads(line) if line.strip() else None
            except orjson.JSONDecodeError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("row_id"), str):
                ids.add(entry["row_id"])
    return ids


def _recent(name: str, cutoff: datetime) -> bool:
    m = _PARTITION.search(name)
    if m is None:
        return True  # not partitioned: keep, rows are filtered by timestamp
    start = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}:00:00+00:00")
    return start + timedelta(hours=1) > cutoff


def _aware(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _sdj(value: Any) -> tuple[SchemaKey, Any] | None:
    if isinstance(value, str | bytes):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(value, dict) or not isinstance(value.get("schema"), str) or "data" not in value:
        return None
    try:
        return SchemaKey.parse(value["schema"]), value["data"]
    except IgluParseError:
        return None


def _entities(unstruct: Any, contexts: Any) -> list[tuple[SchemaKey, Any]]:
    """The self-describing entities inside an unstruct_event wrapper and a contexts wrapper."""
    out: list[tuple[SchemaKey, Any]] = []
    wrapper = _sdj(unstruct)
    if wrapper is not None:
        inner = _sdj(wrapper[1])
        if inner is not None:
            out.append(inner)
    wrapper = _sdj(contexts)
    if wrapper is not None and isinstance(wrapper[1], list):
        out.extend(e for e in (_sdj(item) for item in wrapper[1]) if e is not None)
    return out


def _count(report: ImpactReport, validator: Any, entity_key: SchemaKey, data: Any) -> None:
    report.entities_checked += 1
    counts = report.by_version.setdefault(str(entity_key.version), {"pass": 0, "fail": 0})
    error = next(iter(validator.iter_errors(data)), None)
    if error is None:
        report.would_pass += 1
        counts["pass"] += 1
        return
    report.would_newly_fail += 1
    counts["fail"] += 1
    if len(report.failures) < _EXAMPLES:
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        report.failures.append({"schema": entity_key.uri, "error": f"{where}: {error.message}"})


def _parameters(raw: Any) -> dict[str, str]:
    params = raw.get("parameters") if isinstance(raw, dict) else None
    if isinstance(params, dict):
        return {str(k): str(v) for k, v in params.items() if v is not None}
    out: dict[str, str] = {}
    if isinstance(params, list):
        for item in params:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item.get("value") is not None:
                out[item["name"]] = str(item["value"])
    return out


def _b64(text: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _check_bad_row(
    report: ImpactReport, validator: Any, key: SchemaKey, line: bytes, *, replayed: set[str], seen: set[str]
) -> None:
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError:
        return
    data = row.get("data", row) if isinstance(row, dict) else None
    if not isinstance(data, dict):
        return
    messages = (data.get("failure") or {}).get("messages") or []
    failed_keys = []
    for message in messages:
        parsed = _sdj({"schema": message.get("schemaKey"), "data": None}) if isinstance(message, dict) else None
        failed_keys.append(parsed[0] if parsed else None)
    family = (key.vendor, key.name, key.format)
    ours = [k for k in failed_keys if k is not None and (k.vendor, k.name, k.format) == family]
    if not ours:
        return
    if hashlib.sha256(line.strip()).hexdigest() in replayed:  # the row id loader/selection.py gives a bad row
        report.bad_rows_replayed += 1
        return
    if all(k.version.model != key.version.model for k in ours):
        report.bad_rows_other_model += 1
        return
    params = _parameters((data.get("payload") or {}).get("raw"))
    identity = f"eid:{params['eid']}" if params.get("eid") else hashlib.sha256(line.strip()).hexdigest()
    if identity in seen:
        report.bad_rows_duplicate += 1
        return
    seen.add(identity)
    report.bad_rows_checked += 1
    unstruct = params.get("ue_pr") or (_b64(params["ue_px"]) if "ue_px" in params else None)
    contexts = params.get("co") or (_b64(params["cx"]) if "cx" in params else None)
    same_model = (*family, key.version.model)
    entities = [
        (k, d) for k, d in _entities(unstruct, contexts) if (k.vendor, k.name, k.format, k.version.model) == same_model
    ]
    other_failures = any(k is None or (k.vendor, k.name, k.format, k.version.model) != same_model for k in failed_keys)
    if entities and not other_failures and all(validator.is_valid(d) for _, d in entities):
        report.bad_rows_fixed += 1
    else:
        report.bad_rows_still_failing += 1
