"""Validation throughput on one core: eventkit's compiled fast path vs jsonschema's Draft4Validator built once.

Schema: a realistic checkout event (16 properties, a nested customer object, an array of line items,
enums, date-time/email/uuid/uri formats, maxLength, numeric bounds). Instances: valid ones and
invalid ones (one wrong field each, varying). Figures, all measured in this run on one thread:

* `is_valid` (fast path only; includes the resolver cache lookup and the nesting-depth check)
  vs `Draft4Validator(schema, format_checker=<the same format checks>).is_valid` — target >= 15x on valid;
* `validate` (fast path, plus the full Iglu report for invalid instances) vs building the same
  list of errors with `Draft4Validator.iter_errors`.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

from core.iglu import SchemaKey
from registry.resolver import Resolver
from registry.schema_compiler import FORMAT_CHECKER, validation_schema
from registry.validation import Validator
from tests.bench import summary

KEY = SchemaKey.parse("iglu:com.acme.shop/checkout_completed/jsonschema/1-0-0")
MEASURE_S = 1.5
ROUNDS = 5

CHECKOUT_SCHEMA: dict[str, Any] = {
    "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
    "description": "A completed checkout",
    "self": {"vendor": KEY.vendor, "name": KEY.name, "format": "jsonschema", "version": "1-0-0"},
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "format": "uuid"},
        "store": {"type": "string", "enum": ["web", "ios", "android", "pos"]},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP", "JPY", "CHF"]},
        "total": {"type": "number", "minimum": 0, "maximum": 1000000},
        "tax": {"type": ["number", "null"], "minimum": 0, "maximum": 1000000},
        "shipping": {"type": ["number", "null"], "minimum": 0, "maximum": 10000},
        "discount_code": {"type": ["string", "null"], "maxLength": 32, "pattern": "^[A-Z0-9-]+$"},
        "payment_method": {"enum": ["card", "paypal", "apple_pay", "google_pay", "invoice"]},
        "placed_at": {"type": "string", "format": "date-time"},
        "landing_page": {"type": ["string", "null"], "format": "uri", "maxLength": 4096},
        "is_first_order": {"type": "boolean"},
        "loyalty_points": {"type": ["integer", "null"], "minimum": 0, "maximum": 10000000},
        "notes": {"type": ["string", "null"], "maxLength": 500},
        "customer": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "maxLength": 64},
                "email": {"type": ["string", "null"], "format": "email", "maxLength": 256},
                "segment": {"enum": ["new", "returning", "vip", None]},
                "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
            },
            "required": ["id", "country"],
            "additionalProperties": False,
        },
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "maxLength": 64},
                    "name": {"type": "string", "maxLength": 255},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "unit_price": {"type": "number", "minimum": 0, "maximum": 100000},
                    "category": {"type": ["string", "null"], "maxLength": 128},
                },
                "required": ["sku", "quantity", "unit_price"],
                "additionalProperties": False,
            },
        },
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 32}, "maxItems": 20},
    },
    "required": ["order_id", "store", "currency", "total", "placed_at", "customer", "items"],
    "additionalProperties": False,
}

VALID_EVENT: dict[str, Any] = {
    "order_id": "c3f9b2a8-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    "store": "web",
    "currency": "EUR",
    "total": 149.9,
    "tax": 23.93,
    "shipping": 4.99,
    "discount_code": "SPRING-10",
    "payment_method": "card",
    "placed_at": "2026-03-14T09:26:53.589Z",
    "landing_page": "https://shop.example.com/sale?utm_source=news",
    "is_first_order": False,
    "loyalty_points": 1200,
    "notes": None,
    "customer": {"id": "cus_8812", "email": "ada@example.com", "segment": "returning", "country": "DE"},
    "items": [
        {"sku": "TSHIRT-RED-M", "name": "T-shirt red M", "quantity": 2, "unit_price": 19.95, "category": "apparel"},
        {"sku": "MUG-01", "name": "Mug", "quantity": 1, "unit_price": 9.5, "category": None},
        {"sku": "HOODIE-XL", "name": "Hoodie XL", "quantity": 1, "unit_price": 89.0, "category": "apparel"},
    ],
    "tags": ["sale", "newsletter"],
}


def invalid_events() -> list[dict[str, Any]]:
    """One realistic mistake per event: wrong type, unknown enum, bad format, too long, missing, extra."""
    mutations: list[Callable[[dict[str, Any]], None]] = [
        lambda e: e.__setitem__("total", "149.90"),
        lambda e: e.__setitem__("currency", "eur"),
        lambda e: e.__setitem__("placed_at", "14/03/2026 09:26"),
        lambda e: e["items"][1].__setitem__("quantity", 0),
        lambda e: e["customer"].pop("country"),
        lambda e: e.__setitem__("coupon", "X"),
        lambda e: e.__setitem__("notes", "x" * 600),
        lambda e: e["items"][0].__setitem__("unit_price", None),
    ]
    events = []
    for mutate in mutations:
        event = copy.deepcopy(VALID_EVENT)
        mutate(event)
        events.append(event)
    return events


def valid_events() -> list[dict[str, Any]]:
    events = []
    for i in range(8):
        event = copy.deepcopy(VALID_EVENT)
        event["total"] = 100 + i
        event["items"] = event["items"][: 1 + i % 3]
        events.append(event)
    return events


def rate(check: Callable[[Any], Any], events: list[dict[str, Any]]) -> float:
    """Events per second for `check` over the events, repeated for about MEASURE_S (best of ROUNDS rounds)."""
    for event in events:  # warm-up (compiles, caches)
        check(event)
    best = 0.0
    for _ in range(ROUNDS):
        count = 0
        started = time.perf_counter()
        deadline = started + MEASURE_S / ROUNDS
        while time.perf_counter() < deadline:
            for event in events:
                check(event)
            count += len(events)
        best = max(best, count / (time.perf_counter() - started))
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / KEY.path
        file.parent.mkdir(parents=True)
        file.write_text(json.dumps(CHECKOUT_SCHEMA))
        validator = Validator(Resolver.from_locations(folder))
        # Same format checks as ours (stock FormatChecker skips date-time without optional packages).
        baseline = Draft4Validator(validation_schema(CHECKOUT_SCHEMA), format_checker=FORMAT_CHECKER)
        good, bad = valid_events(), invalid_events()
        assert all(validator.is_valid(KEY, e) for e in good) and not any(validator.is_valid(KEY, e) for e in bad)
        assert all(baseline.is_valid(e) for e in good) and not any(baseline.is_valid(e) for e in bad)

        rows = [
            ("valid, is_valid", rate(lambda e: validator.is_valid(KEY, e), good), rate(baseline.is_valid, good)),
            ("invalid, is_valid", rate(lambda e: validator.is_valid(KEY, e), bad), rate(baseline.is_valid, bad)),
            (
                "valid, validate",
                rate(lambda e: validator.validate(KEY, e), good),
                rate(lambda e: list(baseline.iter_errors(e)), good),
            ),
            (
                "invalid, validate+report",
                rate(lambda e: validator.validate(KEY, e), bad),
                rate(lambda e: list(baseline.iter_errors(e)), bad),
            ),
        ]
    print("   one core; checkout event with 16 properties, nested customer, 1-3 line items")
    print(f"   {'case':<26}{'eventkit ev/s':>16}{'jsonschema ev/s':>18}{'ratio':>9}")
    for name, ours, theirs in rows:
        print(f"   {name:<26}{ours:>16,.0f}{theirs:>18,.0f}{ours / theirs:>8.1f}x")
    print("   target: >= 15x for valid instances (is_valid)")
    _, ours, theirs = rows[0]
    summary.record(
        summary.Figure(
            "validation, valid, is_valid", ours, "ev/s", baseline=theirs, baseline_name="jsonschema", target=15.0
        )
    )


if __name__ == "__main__":
    main()
