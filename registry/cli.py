"""`eventkit schema lint|publish|diff|check` and `eventkit registry serve`: the registry's command line."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer

from core.errors import EventkitError, IgluParseError
from core.iglu import SchemaKey

__all__ = ["registry_app", "schema_app"]

# Shell completion is the root's option (`eventkit --install-completion`), not each group's.
schema_app = typer.Typer(help="Lint, diff, check and publish schemas.", no_args_is_help=True, add_completion=False)
registry_app = typer.Typer(help="Serve the Iglu-compatible registry API.", no_args_is_help=True, add_completion=False)


@registry_app.callback()
def _registry_group() -> None:
    """Serve the Iglu-compatible registry API."""


def _schema_files(paths: list[Path]) -> list[tuple[Path, SchemaKey | None]]:
    """Files to lint with the key their path implies (`.../vendor/name/format/M-R-A`), dirs walked."""
    out: list[tuple[Path, SchemaKey | None]] = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if any(part.startswith(".") for part in file.parts[-5:-1]) or file.name.startswith((".", "LICENSE")):
                continue
            key = _path_key(file)
            if path.is_dir() and key is None:
                continue  # folders hold schema lists and licences beside the schemas
            out.append((file, key))
    return out


def _path_key(file: Path) -> SchemaKey | None:
    parts = file.resolve().parts
    if len(parts) < 4:
        return None
    try:
        return SchemaKey.parse_path("/".join(parts[-4:]))
    except IgluParseError:
        return None


def _load(file: Path) -> Any:
    return orjson.loads(file.read_bytes())


def _read_schema(file: Path) -> dict[str, Any]:
    """The JSON Schema object in `file`; a missing, unreadable or non-JSON file ends the command (one line, exit 2)."""
    try:
        value = _load(file)
    except (OSError, orjson.JSONDecodeError) as e:
        _user_error(f"{file}: {_unreadable(e)}", e)
    if not isinstance(value, dict):
        _user_error(f"{file}: not a JSON Schema: the document is a JSON {type(value).__name__}, not an object", None)
    return value


def _unreadable(e: Exception) -> str:
    if isinstance(e, orjson.JSONDecodeError):
        return f"not valid JSON: {e}"
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, IsADirectoryError):
        return "is a folder, not a schema file"
    return f"cannot be read: {e.strerror if isinstance(e, OSError) and e.strerror else e}"


def _user_error(message: str, cause: Exception | None) -> NoReturn:
    """Report a user mistake in one line on stderr and exit 2; `eventkit --debug` raises it for the traceback."""
    if os.environ.get("EVENTKIT_DEBUG"):
        raise cause if cause is not None else EventkitError(message)
    typer.echo(message, err=True)
    raise typer.Exit(2)


@schema_app.command("lint")
def lint(
    paths: Annotated[list[Path], typer.Argument(help="Schema files or folders in Iglu static layout.")],
    skip_checks: Annotated[str, typer.Option("--skip-checks", help="Comma-separated skippable checks.")] = "",
    include_checks: Annotated[
        str,
        typer.Option("--include-checks", help="Comma-separated checks that run only when asked: stringMaxLengthRange."),
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report.")] = False,
) -> None:
    """Lint schemas like igluctl (plus self/path, meta-schema, version gaps, ReDoS patterns); exit 1 on errors."""
    from registry.lint import CHECKS, OPT_IN_CHECKS, Finding, lint_schema, lint_versions

    include = frozenset(s.strip() for s in include_checks.split(",") if s.strip())
    if include - OPT_IN_CHECKS:
        names = ", ".join(sorted(include - OPT_IN_CHECKS))
        typer.echo(
            f"--include-checks: not an opt-in check: {names} (opt-in: {', '.join(sorted(OPT_IN_CHECKS))})", err=True
        )
        raise typer.Exit(2)
    skip = frozenset(s.strip() for s in skip_checks.split(",") if s.strip())
    unknown = sorted(skip - set(CHECKS))
    fixed = sorted(s for s in skip & set(CHECKS) if not CHECKS[s][1])
    if unknown or fixed:
        problem = (
            f"unknown checks: {', '.join(unknown)}" if unknown else f"cannot skip ERROR checks: {', '.join(fixed)}"
        )
        skippable = ", ".join(sorted(n for n, (_, s) in CHECKS.items() if s))
        typer.echo(f"--skip-checks: {problem} (skippable: {skippable})", err=True)
        raise typer.Exit(2)
    files = _schema_files(paths)
    report: dict[str, list[Finding]] = {}
    for file, key in files:
        try:
            report[str(file)] = lint_schema(_load(file), path_key=key, skip=skip, include=include)
        except (OSError, orjson.JSONDecodeError) as e:
            report[str(file)] = [Finding("selfDescribing", "ERROR", "/", f"cannot read a JSON schema: {e}")]
    by_key = {key: str(file) for file, key in files if key is not None}
    for key, finding in lint_versions(list(by_key)):
        report[by_key[key]].append(finding)
    counts = {
        level: sum(f.level == level for fs in report.values() for f in fs) for level in ("ERROR", "WARNING", "INFO")
    }
    if as_json:
        body = {
            "files": {name: [f.to_json() for f in fs] for name, fs in report.items()},
            "summary": {
                "files": len(report),
                "errors": counts["ERROR"],
                "warnings": counts["WARNING"],
                "infos": counts["INFO"],
            },
        }
        typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
    else:
        for name, findings in report.items():
            for f in findings:
                typer.echo(f"{name}: {f.level} {f.check} at {f.pointer}: {f.message}")
        typer.echo(
            f"{len(report)} schema(s): {counts['ERROR']} error(s), "
            f"{counts['WARNING']} warning(s), {counts['INFO']} info(s)"
        )
    if counts["ERROR"] or not report:
        raise typer.Exit(1)


@schema_app.command("diff")
def diff_cmd(
    old: Annotated[Path, typer.Argument(help="The earlier schema file.")],
    new: Annotated[Path, typer.Argument(help="The later schema file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable diff.")] = False,
) -> None:
    """Print what changed from OLD to NEW and which SchemaVer bump that needs (ADDITION/REVISION/MODEL/UNSURE)."""
    from registry.compat import diff

    result = diff(_read_schema(old), _read_schema(new))
    if as_json:
        typer.echo(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode())
        return
    for change in result.changes:
        typer.echo(f"{change.kind:<22} {change.pointer or '/'}: {change.description}")
    if not result.changes:
        typer.echo("no validation-relevant changes")
    rejected = result.instances_rejected
    every = " (all)" if rejected and rejected == result.instances_tested else ""
    typer.echo(
        f"instances generated from {old.name}: {result.instances_tested}, rejected by {new.name}: {rejected}{every}"
    )
    typer.echo(f"verdict: {result.verdict}")
    for reason in result.reasons:
        typer.echo(f"  because {reason}")
    if result.verdict == "UNSURE":
        typer.echo(
            f"  (the proofs leave {result.lowest} to {result.highest} possible; publishing needs {result.highest}, "
            "review the change before declaring less)"
        )


@schema_app.command("publish")
def publish(
    files: Annotated[list[Path], typer.Argument(help="Self-describing schema files.")],
    *,
    registry: Annotated[str, typer.Option("--registry", help="A folder, gs://bucket/prefix, or http(s)://host/api.")],
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="EVENTKIT_REGISTRY_API_KEY")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Run every check, write nothing.")] = False,
    public: Annotated[
        bool | None,
        typer.Option(
            "--public/--private",
            help="Readable without a key, or only with one (default: as the schema's published versions, else public).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Accept an UNSURE change at the smallest bump its proofs allow.")
    ] = False,
    dev_mode: Annotated[bool, typer.Option("--dev-mode", help="Allow overwriting (local registries).")] = False,
) -> None:
    """Publish schemas in version order, refusing anything that would harm historical data; exit 1 if any is refused."""
    from registry.publish import Outcome, Publisher

    loaded: list[tuple[Path, Any]] = []
    for file in files:
        try:
            loaded.append((file, _load(file)))
        except (OSError, orjson.JSONDecodeError) as e:
            typer.echo(f"{file}: refused: cannot read a JSON schema: {e}")
            raise typer.Exit(1) from e
    loaded.sort(key=lambda item: _sort_key(item[1]))
    failed = False
    remote = registry.startswith(("http://", "https://"))
    outcomes: list[tuple[Path, Outcome | tuple[int, dict[str, Any]]]]
    try:
        if remote:
            _check_api(registry)
        if remote and not dry_run:
            outcomes = [(f, _publish_http(registry, s, api_key, public, f)) for f, s in loaded]
        else:
            # A dry run publishes for real into a scratch copy of the affected schema families, so a batch is
            # checked as a whole (1-0-1 after 1-0-0 from the same command line) and nothing is written upstream.
            store = _remote_mirror(registry, api_key, loaded) if remote else _open_store(registry)
            if dry_run and not remote:
                store = _scratch_copy(store, loaded)
            publisher = Publisher(store, dev_mode=dev_mode)
            outcomes = []
            for f, s in loaded:
                local = publisher.publish(s, expected_key=_path_key(f), is_public=public, force=force)
                if dry_run and local.ok and local.status != "unchanged":
                    local.status = "would-update" if local.status == "updated" else "would-create"
                    local.message = "Dry run: all checks passed, nothing written"
                outcomes.append((f, local))
    except EventkitError as e:
        typer.echo(f"registry {registry}: {e}", err=True)
        raise typer.Exit(2) from e
    for file, outcome in outcomes:
        if isinstance(outcome, Outcome):
            failed |= not outcome.ok
            where = outcome.key.uri if outcome.key else str(file)
            typer.echo(f"{file}: {outcome.status} {where}: {outcome.message}")
            for line in outcome.details:
                typer.echo(f"    {line}")
        else:
            status, body = outcome
            failed |= status >= 300
            unchanged = str(body.get("message", "")).startswith("Schema unchanged")
            typer.echo(f"{file}: {'unchanged' if unchanged else f'HTTP {status}'}: {body.get('message', '')}")
            for line in body.get("details", []) + [
                f"{r['level']} {r['pointer']}: {r['message']}" for r in body.get("report", [])
            ]:
                typer.echo(f"    {line}")
    if failed:
        raise typer.Exit(1)


def _sort_key(schema: Any) -> tuple[Any, ...]:
    from registry.lint import schema_key_of

    key = schema_key_of(schema)
    return (0, key.vendor, key.name, key.version) if key else (1, "", "", None)


def _open_store(location: str) -> Any:
    from registry.store import open_store

    return open_store(location)


def _api_hint(base: str) -> str:
    """What --registry should look like when `base` does not answer as an Iglu Server API."""
    from urllib.parse import urlsplit

    parts = urlsplit(base.rstrip("/"))
    if not parts.path.endswith("/api"):
        return f"--registry takes the Iglu Server API base URL, ending in /api: {base.rstrip('/')}/api"
    return "--registry takes the Iglu Server API base URL, e.g. http://host:8080/api"


def _check_api(base: str) -> None:
    """Refuse a URL that is not an Iglu Server API (GET <base>/meta/health answers OK) before publishing to it."""
    import httpx

    from core.errors import RegistryUnavailable

    url = f"{base.rstrip('/')}/meta/health"
    try:
        response = httpx.get(url, timeout=30)  # Iglu Server's health answers without a key
    except httpx.HTTPError as e:
        raise RegistryUnavailable(f"GET {url} failed: {e}") from e
    if response.status_code != 200:
        raise RegistryUnavailable(
            f"not an Iglu Server API: GET {url} answered HTTP {response.status_code}; {_api_hint(base)}"
        )


def _publish_http(
    base: str, schema: Any, api_key: str | None, public: bool | None, file: Path
) -> tuple[int, dict[str, Any]]:
    import httpx

    from core.errors import RegistryUnavailable
    from registry.lint import schema_key_of

    key = schema_key_of(schema) or _path_key(file)
    if key is None:
        return 400, {"message": "the file declares no valid self block"}
    headers = {"apikey": api_key} if api_key else {}
    url = f"{base.rstrip('/')}/schemas/{key.path}"
    # Iglu Server makes an unflagged schema private; eventkit's default is public everywhere (docs/DESIGN.md).
    visibility = "false" if public is False else "true"
    try:
        response = httpx.put(
            url, content=orjson.dumps(schema), headers=headers, params={"isPublic": visibility}, timeout=30
        )
    except httpx.HTTPError as e:
        raise RegistryUnavailable(f"PUT {url} failed: {e}") from e
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text}
    body = body if isinstance(body, dict) else {"message": str(body)}
    if response.status_code == 404:
        body = {"message": f"PUT {url} answered 404 (no schema API there); {_api_hint(base)}"}
    elif response.status_code == 409 and _published_as(url, headers, schema):
        return 200, {"message": "Schema unchanged: the same schema is already published"}
    elif not body.get("message"):
        body["message"] = f"PUT {url} answered HTTP {response.status_code} with no explanation"
    return response.status_code, body


def _published_as(url: str, headers: dict[str, str], schema: Any) -> bool:
    """Is the schema at `url` the very same as `schema` (an Iglu Server answers 409 to any republish)?"""
    import httpx

    try:
        response = httpx.get(url, headers=headers, timeout=30)
        stored = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return False
    if not isinstance(stored, dict) or not isinstance(schema, dict):
        return False
    ignore = ("$supersededBy", "metadata")
    return {k: v for k, v in stored.items() if k not in ignore} == {k: v for k, v in schema.items() if k not in ignore}


def _families(loaded: list[tuple[Path, Any]]) -> set[tuple[str, str, str]]:
    from registry.lint import schema_key_of

    return {(k.vendor, k.name, k.format) for k in (schema_key_of(s) for _, s in loaded) if k is not None}


def _scratch_copy(store: Any, loaded: list[tuple[Path, Any]]) -> Any:
    """A temporary local store holding the affected families (schemas, metadata) and the compatibility policy."""
    from registry.publish import CompatibilityPolicy
    from registry.store import open_store

    scratch = open_store(tempfile.mkdtemp(prefix="eventkit-dry-run-"))
    families = _families(loaded)
    for key in store.list_keys():
        schema = store.get(key)
        if (key.vendor, key.name, key.format) in families and schema is not None:
            scratch.put(key, schema, store.meta(key))
    CompatibilityPolicy.load(store).save(scratch)
    return scratch


def _remote_mirror(base: str, api_key: str | None, loaded: list[tuple[Path, Any]]) -> Any:
    """For a dry run against an HTTP registry: copy the affected schema families into a temporary local store."""
    import httpx

    from registry.lint import schema_key_of
    from registry.store import SchemaMeta, open_store

    store = open_store(tempfile.mkdtemp(prefix="eventkit-dry-run-"))
    headers = {"apikey": api_key} if api_key else {}
    for vendor, name, fmt in _families(loaded):
        url = f"{base.rstrip('/')}/schemas/{vendor}/{name}/{fmt}"
        response = httpx.get(url, headers=headers, params={"repr": "meta"}, timeout=30)
        if response.status_code == 404:
            continue
        response.raise_for_status()
        for item in response.json():
            key = schema_key_of(item)
            if key is not None:
                meta = item.pop("metadata", {})
                item.pop("$supersededBy", None)
                store.put(key, item, SchemaMeta(is_public=bool(meta.get("isPublic"))))
    return store


@schema_app.command("compatibility")
def compatibility(
    target: Annotated[str, typer.Argument(help="A vendor prefix (com.acme) or one schema (com.acme/checkout).")],
    mode: Annotated[str, typer.Argument(help="BACKWARD, FORWARD, FULL, NONE or a *_TRANSITIVE form.")],
    registry: Annotated[str, typer.Option("--registry", help="A folder or gs://bucket/prefix.")],
) -> None:
    """Set the compatibility mode publishing enforces for a vendor prefix or a schema (stored with the registry)."""
    from registry.publish import COMPATIBILITY_MODES, CompatibilityPolicy

    mode = mode.upper()
    if mode not in COMPATIBILITY_MODES:
        typer.echo(f"mode must be one of {', '.join(COMPATIBILITY_MODES)}", err=True)
        raise typer.Exit(2)
    store = _open_store(registry)
    policy = CompatibilityPolicy.load(store)
    if target == "default":
        policy.default = mode
    else:
        policy.modes[target] = mode
    policy.save(store)
    typer.echo(f"{target}: {mode}")


@schema_app.command("check")
def check(  # noqa: PLR0917 - Typer maps each command-line option to one parameter
    file: Annotated[Path, typer.Argument(help="The candidate schema file.")],
    lake: Annotated[
        str | None,
        typer.Option("--lake", help="file:///path, a folder, or gs://bucket/prefix (default: the data dir's)."),
    ] = None,
    since: Annotated[str, typer.Option("--since", help="How far back: 7d, 12h, 30m.")] = "7d",
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="The folder of `eventkit up --data-dir` (its lake and registry).")
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option("--registry", help="Where the candidate would be published (default: the one `up` recorded)."),
    ] = None,
    allow_new_failures: Annotated[
        bool, typer.Option("--allow-new-failures", help="Exit 0 even when recent events would newly fail.")
    ] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No progress line on stderr (shown only when stderr is a terminal).")
    ] = False,
) -> None:
    """Before publishing: how many recent events would pass, newly fail (exit 1), and how many bad rows it would fix."""
    from core.layout import check_data_dir, readable_lake
    from core.progress import Progress
    from core.recorded_registry import choose_registry
    from core.settings import load_settings
    from registry.check import InvalidCandidate, check_impact, parse_since, proven_candidate

    candidate = _read_schema(file)
    try:
        proven_candidate(candidate)  # an unusable candidate is the one line, before anything else is said
    except InvalidCandidate as e:
        _user_error(f"{file}: {e}", e)
    try:
        # Like load/bad/replay: --lake wins, else the data folder's lake (settings' data_dir by default).
        if data_dir is not None:
            check_data_dir(data_dir)
        settings = load_settings(data_dir=data_dir)
        where = readable_lake(lake or settings.loader.lake, "--lake" if lake else "loader.lake", settings.data_dir)
        window = parse_since(since)
        choice = choose_registry(registry, data_dir, settings.enrich.registry)
        typer.echo(choice.describe(), err=True)  # only once the paths and the file are proven
        _published_versions(candidate, choice.location)
    except EventkitError as e:
        _user_error(f"check: {e}", e)
    try:
        with Progress("checking", unit="files", enabled=False if as_json or no_progress else None) as progress:
            report = check_impact(candidate, where, since=window, progress=progress)
    except InvalidCandidate as e:
        _user_error(f"{file}: {e}", e)
    except EventkitError as e:
        _user_error(f"check: {e}", e)
    if as_json:
        typer.echo(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(report.summary())
    if report.would_newly_fail and not allow_new_failures:
        typer.echo(
            f"{report.would_newly_fail} recent event(s) would newly fail under {report.candidate} "
            "(--allow-new-failures to accept)",
            err=True,
        )
        raise typer.Exit(1)


def _published_versions(candidate: Any, registry: str) -> None:
    """Say (stderr) which versions of the candidate's model that registry already has: a candidate whose version
    is among them is a republish, refused unless identical."""
    from registry.lint import schema_key_of
    from registry.resolver import Resolver, with_bundled_schemas

    key = schema_key_of(candidate)
    if key is None:
        return  # check_impact reports the missing self block
    resolver = Resolver.from_locations(with_bundled_schemas(registry), cache_ttl=None)
    try:
        versions = resolver.list_versions(key.vendor, key.name, key.version.model)
    except EventkitError as e:
        typer.echo(f"published there: unknown ({e})", err=True)
        return
    finally:
        resolver.close()
    listed = ", ".join(str(v.version) for v in versions) or "none"
    note = f"; {key.version} is already published" if any(v.version == key.version for v in versions) else ""
    typer.echo(f"published there ({key.vendor}/{key.name} model {key.version.model}): {listed}{note}", err=True)


@registry_app.command("serve")
def serve(
    registry: Annotated[str, typer.Option("--registry", help="A folder or gs://bucket/prefix.")] = "schemas",
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.")] = 8080,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (0.0.0.0 for all).")] = "127.0.0.1",
    master_key: Annotated[
        str | None,
        typer.Option(
            "--master-key",
            envvar="EVENTKIT_REGISTRY_MASTER_KEY",
            help="Super key that can create API keys (prefer the variable: options show in `ps`).",
        ),
    ] = None,
    dev_mode: Annotated[
        bool, typer.Option("--dev-mode", help="Allow overwriting and deleting (Iglu patchesAllowed).")
    ] = False,
) -> None:
    """Serve the Iglu-Server-compatible API over a folder or bucket."""
    import uvicorn

    from core.settings import load_settings
    from core.telemetry import configure_logging_from
    from registry.api import create_app
    from registry.store import open_store

    try:
        level = configure_logging_from(load_settings())
        app = create_app(open_store(registry), master_key=master_key, dev_mode=dev_mode)
    except EventkitError as e:
        typer.echo(f"registry: {e}", err=True)
        raise typer.Exit(2) from e
    if master_key is None:
        print("no master key configured: keys cannot be created", file=sys.stderr)
    # log_config=None: uvicorn keeps the logging configure_logging_from() set up (format, level, stream).
    uvicorn.run(app, host=host, port=port, log_level=level, log_config=None)
