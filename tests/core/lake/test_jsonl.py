"""Bad rows as JSON-lines files: one compact document per line, in order."""

from __future__ import annotations

from core.lake.jsonl import decode_jsonl, encode_jsonl


def test_jsonl_round_trip() -> None:
    """JSON-lines framing keeps one document per line, in order."""
    docs = [b'{"a":1}', b'{"b":"x\\ny"}']
    data = encode_jsonl(docs)
    assert data.count(b"\n") == 2
    assert decode_jsonl(data) == [{"a": 1}, {"b": "x\ny"}]
