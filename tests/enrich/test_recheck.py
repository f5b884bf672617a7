"""The loader's one door into enrich: a replayed record is re-run through the pipeline and only failures come back."""

from __future__ import annotations

import json

from core.badrows import Processor
from enrich.recheck import Recheck
from tests.enrich.enrichments.events import payload
from tests.enrich.pipeline_env import shared_validator

_SEARCH = "iglu:com.acme/search/jsonschema/1-0-0"
_REPLAY = Processor("eventkit-replay", "0.0.0-test")


def _search(terms: object) -> dict[str, str]:
    unstruct = {"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
                "data": {"schema": _SEARCH, "data": {"terms": terms}}}  # fmt: skip
    return {"e": "ue", "ue_pr": json.dumps(unstruct)}


def test_a_record_that_now_passes_reports_no_failure() -> None:
    """A valid event re-checks clean: no bad rows."""
    assert Recheck(shared_validator(), _REPLAY).failures(payload(_search(["shoes"]))) == []


def test_a_record_that_still_fails_reports_its_bad_row_with_the_replay_processor() -> None:
    """An event its schema still refuses comes back as a schema_violations bad row naming the replay processor."""
    (row,) = Recheck(shared_validator(), _REPLAY).failures(payload(_search("not a list")))
    assert row["schema"].startswith("iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/")
    assert row["data"]["processor"] == {"artifact": "eventkit-replay", "version": "0.0.0-test"}
    assert _SEARCH in json.dumps(row["data"]["failure"])
