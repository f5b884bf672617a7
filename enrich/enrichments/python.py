"""Users' own enrichments in Python: eventkit's counterpart of Snowplow's JavaScript enrichment.

A config `iglu:io.eventkit/python_enrichment_config/jsonschema/1-0-0` in the enrichments folder names the code:
`file` (a `.py` file in that folder, by a path relative to it) with `class` or `function`, or `entryPoint` (an
installed package's entry point in the group `eventkit.enrichments`: a class or a function). A class is made once,
as `Class(options)` with the config's `options` object, and its `enrich(event, ctx)` is called per event; a function
is called per event as `function(event, ctx)`. Either gets what the built-in enrichments get: the EnrichedEvent to
set atomic fields on, and the EnrichmentContext (raw parameters, headers, page query, `add_derived_context`). A
class may subclass BuiltInEnrichment, as the shipped ones do, under the compiled build as well as the source.

What the code does wrong is that event's `enrichment_failures` bad row, naming the enrichment: raising (a
core.errors.TransientError still propagates, so the message is retried, as for the built-ins), returning anything
but None or a list of EnrichmentFailureMessage, setting an atomic field to a value of the wrong kind (or setting
one of the JSON columns, which the pipeline writes), and adding a derived context that does not declare the
config's `schema` or does not validate against it. A context that passes is validated again in phase 3 with all
the others, as every derived context is. What cannot work at all (a missing or unreadable file, code raising on
import, a missing class or function, a wrong signature, a constructor raising) is a ConfigError at start-up.

`file` must stay inside the folder: an absolute path or a `..` is refused, so the folder holds all the code a
config can run (a symlink in the folder is followed: placing it there is the operator's decision). Only the file
itself is loaded; code shared by several files belongs in an installed package (and then an entry point).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path, PurePath
from types import ModuleType
from typing import Any

from core.atomic import ATOMIC_FIELDS
from core.badrows import EnrichmentErrorMessage, EnrichmentFailureMessage, IgluErrorMessage
from core.errors import ConfigError, IgluParseError
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext, information
from enrich.enrichments.config import EnrichmentConfig
from enrich.event import EnrichedEvent
from registry.validator import SchemaValidator

__all__ = ["ENTRY_POINT_GROUP", "PythonEnrichment", "build"]

ENTRY_POINT_GROUP = "eventkit.enrichments"

UserEnrich = Callable[[EnrichedEvent, EnrichmentContext], Any]

# The Python types each kind of atomic field holds (enrich/event.py); bool is not an int here.
_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "ts": (int,),
    "dec": (Decimal,),
    "float": (float,),
    "bool": (bool,),
}
_CHECKS = tuple((f.index, f.name, f.kind) for f in ATOMIC_FIELDS)


class PythonEnrichment(BuiltInEnrichment):
    """A user's enrichment as the pipeline sees it: their code per event, then the checks of what it did."""

    __slots__ = ("_call", "schema", "validator")

    def __init__(
        self,
        identifier: str,
        config_schema: SchemaKey,
        call: UserEnrich,
        schema: SchemaKey | None,
        validator: SchemaValidator,
    ) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self._call = call
        self.schema = schema  # the derived contexts' schema (None: it adds none)
        self.validator = validator

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        before = event.values()
        added_from = len(ctx.derived_contexts)
        result = self._call(event, ctx)
        problems = _returned(result)
        failures: list[EnrichmentFailureMessage] = list(result) if result and not problems else []
        problems.extend(_changed_fields(before, event.values()))
        failures.extend(EnrichmentFailureMessage(information(self), EnrichmentErrorMessage(p)) for p in problems)
        failures.extend(self._check_contexts(ctx.derived_contexts[added_from:]))
        return failures or None

    def _check_contexts(self, contexts: Sequence[Any]) -> list[EnrichmentFailureMessage]:
        """Each context it added declares its configured schema and validates against it."""
        failures: list[EnrichmentFailureMessage] = []
        for sdj in contexts:
            declared = sdj.get("schema") if isinstance(sdj, dict) else None
            if self.schema is None or declared != self.schema.uri or "data" not in sdj:
                expected = f"{{schema: {self.schema.uri!r}, data}}" if self.schema else "none (no schema configured)"
                shown = f"schema {declared!r}" if isinstance(declared, str) else type(sdj).__name__
                problem = f"added a derived context with {shown}; expected {expected}"
                failures.append(EnrichmentFailureMessage(information(self), EnrichmentErrorMessage(problem)))
                continue
            outcome = self.validator.validate(self.schema, sdj["data"])
            if not outcome.ok and outcome.error is not None:
                message = IgluErrorMessage(self.schema, outcome.error)
                failures.append(EnrichmentFailureMessage(information(self), message))
        return failures


def _returned(result: Any) -> list[str]:
    """What is wrong with what the code returned: None, or a list of EnrichmentFailureMessage (as built-ins do)."""
    if result is None:
        return []
    if isinstance(result, list) and all(isinstance(m, EnrichmentFailureMessage) for m in result):
        return []
    return [
        f"returned a {type(result).__name__}; an enrichment returns None (contexts go through "
        "ctx.add_derived_context) or a list of EnrichmentFailureMessage"
    ]


def _changed_fields(before: tuple[Any, ...], after: tuple[Any, ...]) -> list[str]:
    """The atomic fields it changed to a value their kind cannot hold, and the JSON columns it changed at all."""
    problems = []
    for index, name, kind in _CHECKS:
        value = after[index]
        if value is before[index]:
            continue
        if kind == "json":  # cleared too: the tracker's contexts are not the enrichment's to drop
            problems.append(f"set {name}, which the pipeline writes; add contexts with ctx.add_derived_context")
        elif value is None:
            continue
        elif not isinstance(value, _KINDS[kind]) or (kind != "bool" and isinstance(value, bool)):
            problems.append(f"set {name} to a {type(value).__name__}; it holds {_KINDS[kind][0].__name__}")
    return problems


def build(config: EnrichmentConfig) -> PythonEnrichment:
    """The user's code the config names, loaded and checked; ConfigError naming the config when it cannot run."""
    where = str(config.source) if config.source is not None else config.name
    parameters = config.parameters
    if config.validator is None:
        raise ConfigError(f"{where}: a Python enrichment needs the validator its config was read with")
    schema = None
    if "schema" in parameters:
        try:
            schema = SchemaKey.parse(parameters["schema"])
        except IgluParseError as e:
            raise ConfigError(f"{where}: parameters.schema: {e}") from None
    if "entryPoint" in parameters:
        target = _entry_point(parameters["entryPoint"], where)
        shown = f"entry point {parameters['entryPoint']!r}"
        as_class = isinstance(target, type)
    else:
        module = _load_file(config.folder, parameters["file"], where)
        as_class = "class" in parameters
        name = parameters["class"] if as_class else parameters["function"]
        shown = f"{parameters['file']}: {name}"
        target = getattr(module, name, None)
        if target is None:
            defined = ", ".join(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
            raise ConfigError(f"{where}: {parameters['file']} defines no {name!r} (it defines: {defined or 'nothing'})")
        if as_class != isinstance(target, type):
            raise ConfigError(f"{where}: {shown} is {'not ' if as_class else ''}a class")
    call = _instance_enrich(target, config, shown, where) if as_class else target
    if not as_class and "options" in parameters:
        raise ConfigError(f"{where}: parameters.options are given to a class; {shown} is a function")
    _check_signature(call, shown, where)
    return PythonEnrichment(config.name, config.schema, call, schema, config.validator)


def _load_file(folder: Path, relative: str, where: str) -> ModuleType:
    """Execute the file as a module of its own (named after its path, so two files never share one)."""
    path = PurePath(relative)
    if path.is_absolute() or ".." in path.parts or path.suffix != ".py":
        raise ConfigError(f"{where}: parameters.file must be a .py file inside {folder} (no absolute path, no '..')")
    full = folder / path
    if not full.is_file():
        raise ConfigError(f"{where}: {full} does not exist or is not a file")
    digest = hashlib.sha256(str(full.resolve()).encode()).hexdigest()[:12]
    name = f"eventkit_user_enrichment_{digest}"
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: {full} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: dataclasses and pickling look classes up there
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:
        del sys.modules[name]
        raise ConfigError(f"{where}: {relative} raised {type(e).__name__} on import: {e}") from None
    return module


def _entry_point(name: str, where: str) -> Any:
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        installed = ", ".join(sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))) or "none"
        raise ConfigError(f"{where}: no entry point {name!r} in group {ENTRY_POINT_GROUP} (installed: {installed})")
    (entry,) = tuple(found)[:1]
    try:
        return entry.load()
    except (Exception, SystemExit) as e:
        raise ConfigError(f"{where}: entry point {name!r} ({entry.value}) raised {type(e).__name__}: {e}") from None


def _instance_enrich(cls: type, config: EnrichmentConfig, shown: str, where: str) -> UserEnrich:
    """The bound `enrich` of the one instance made of the user's class."""
    try:
        instance = cls(config.parameters.get("options", {}))
    except (Exception, SystemExit) as e:
        raise ConfigError(f"{where}: {shown}(options) raised {type(e).__name__}: {e}") from None
    enrich = getattr(instance, "enrich", None)
    if not callable(enrich):
        raise ConfigError(f"{where}: {shown} has no enrich(event, ctx) method")
    if isinstance(instance, BuiltInEnrichment):  # its slots say who it is, as the shipped enrichments' do
        instance.identifier = config.name
        instance.config_schema = config.schema
    return enrich  # type: ignore[no-any-return]


def _check_signature(call: Any, shown: str, where: str) -> None:
    """A callable that cannot take (event, ctx) is refused at start-up rather than failing every event."""
    if not callable(call):
        raise ConfigError(f"{where}: {shown} is not callable")
    try:
        signature = inspect.signature(call)
    except (TypeError, ValueError):  # some callables (C functions) show none: they are called as they are
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise ConfigError(f"{where}: {shown} must take (event, ctx); its signature is {signature}") from None
