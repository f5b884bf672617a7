"""IgluClientError JSON (iglu-scala-client's shape) as bad rows carry it: builders, and a normaliser to the schemas.

Three shapes (snowplow.md §4.3):

    {"error": "ResolutionError", "lookupHistory": [{"repository", "errors": [{"error", "message"?}],
                                                    "attempts", "lastAttempt"}]}
    {"error": "ValidationError", "dataReports": [{"message", "path", "keyword", "targets"}], "supersededBy"?}
    {"error": "ValidationError", "schemaIssues": [{"path", "message"}], "supersededBy"?}

The schemas misspell `repository` in `properties` but require `repository`; we emit `repository`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from core.badrows.limits import fit, is_instant
from core.raw import format_instant

__all__ = [
    "DataReport",
    "RepositoryLookup",
    "normalise_iglu_client_error",
    "resolution_error",
    "schema_issues_error",
    "validation_error",
]

RepositoryErrorKind = Literal["NotFound", "RepoFailure", "ClientFailure"]
_REPO_ERROR_KINDS = ("NotFound", "RepoFailure", "ClientFailure")
_MESSAGE_LIMIT = 256
_SUPERSEDED_LIMIT = 32


@dataclass(frozen=True, slots=True)
class RepositoryLookup:
    """What one repository of the resolver chain answered for a schema (one lookupHistory entry)."""

    repository: str
    errors: tuple[tuple[RepositoryErrorKind, str | None], ...]  # (kind, message); NotFound has no message
    attempts: int
    last_attempt_ms: int


@dataclass(frozen=True, slots=True)
class DataReport:
    """One reason an instance is invalid: message, JSONPath into the instance, failed keyword, targets."""

    message: str
    path: str | None
    keyword: str | None
    targets: tuple[str, ...] | None


def resolution_error(history: Sequence[RepositoryLookup]) -> dict[str, Any]:
    """The schema could not be resolved in any repository."""
    entries = []
    for lookup in history:
        errors: list[dict[str, Any]] = []
        for kind, message in lookup.errors:
            errors.append({"error": kind} if message is None else {"error": kind, "message": message})
        entries.append(
            {
                "repository": lookup.repository,
                "errors": errors,
                "attempts": lookup.attempts,
                "lastAttempt": format_instant(lookup.last_attempt_ms),
            }
        )
    return normalise_iglu_client_error({"error": "ResolutionError", "lookupHistory": entries})


def validation_error(reports: Sequence[DataReport], superseded_by: str | None = None) -> dict[str, Any]:
    """The instance does not validate against its resolved schema."""
    error: dict[str, Any] = {
        "error": "ValidationError",
        "dataReports": [
            {
                "message": r.message,
                "path": r.path,
                "keyword": r.keyword,
                "targets": None if r.targets is None else list(r.targets),
            }
            for r in reports
        ],
    }
    if superseded_by is not None:
        error["supersededBy"] = superseded_by
    return normalise_iglu_client_error(error)


def schema_issues_error(issues: Sequence[tuple[str, str]], superseded_by: str | None = None) -> dict[str, Any]:
    """The resolved schema itself is unusable; issues are (JSONPath into the schema, message)."""
    error: dict[str, Any] = {
        "error": "ValidationError",
        "schemaIssues": [{"path": p, "message": m} for p, m in issues],
    }
    if superseded_by is not None:
        error["supersededBy"] = superseded_by
    return normalise_iglu_client_error(error)


def normalise_iglu_client_error(error: Any) -> dict[str, Any]:
    """Check the shape and cut texts to the schema limits; raises ValueError for anything else.

    Idempotent, so a parsed bad row normalises to itself.
    """
    if not isinstance(error, dict):
        raise ValueError("IgluClientError: expected a JSON object")
    kind = error.get("error")
    if kind == "ResolutionError":
        _only(error, {"error", "lookupHistory"}, "ResolutionError")
        return {"error": kind, "lookupHistory": _lookup_history(error.get("lookupHistory"))}
    if kind != "ValidationError":
        raise ValueError(f"IgluClientError: unknown error kind {kind!r}")
    out: dict[str, Any] = {"error": kind}
    if "dataReports" in error:
        _only(error, {"error", "dataReports", "supersededBy"}, "ValidationError")
        out["dataReports"] = _data_reports(error["dataReports"])
    elif "schemaIssues" in error:
        _only(error, {"error", "schemaIssues", "supersededBy"}, "ValidationError")
        out["schemaIssues"] = _schema_issues(error["schemaIssues"])
    else:
        raise ValueError("ValidationError: expected dataReports or schemaIssues")
    if "supersededBy" in error:
        superseded = error["supersededBy"]
        if superseded is not None and not isinstance(superseded, str):
            raise ValueError("ValidationError.supersededBy: expected a string or null")
        out["supersededBy"] = None if superseded is None else fit(superseded, _SUPERSEDED_LIMIT)
    return out


def _only(obj: dict[str, Any], allowed: set[str], what: str) -> None:
    extra = set(obj) - allowed
    if extra:
        raise ValueError(f"{what}: unexpected keys {sorted(extra)}")


def _non_empty_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{what}: expected a non-empty list")
    return value


def _lookup_history(value: Any) -> list[dict[str, Any]]:
    out = []
    for entry in _non_empty_list(value, "lookupHistory"):
        if not isinstance(entry, dict):
            raise ValueError("lookupHistory: expected objects")
        repository = entry.get("repository", entry.get("repostitory"))  # accept the schema's misspelling on read
        attempts = entry.get("attempts")
        last = entry.get("lastAttempt")
        if not isinstance(repository, str):
            raise ValueError("lookupHistory.repository: expected a string")
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
            raise ValueError("lookupHistory.attempts: expected an integer >= 0")
        if not isinstance(last, str) or not is_instant(last):
            raise ValueError("lookupHistory.lastAttempt: expected an ISO-8601 instant")
        errors = []
        for e in _non_empty_list(entry.get("errors"), "lookupHistory.errors"):
            if not isinstance(e, dict) or e.get("error") not in _REPO_ERROR_KINDS:
                raise ValueError(f"lookupHistory.errors: expected one of {_REPO_ERROR_KINDS}")
            message = e.get("message")
            if message is None:
                errors.append({"error": e["error"]})
            elif isinstance(message, str):
                errors.append({"error": e["error"], "message": fit(message, _MESSAGE_LIMIT)})
            else:
                raise ValueError("lookupHistory.errors.message: expected a string")
        out.append({"repository": repository, "errors": errors, "attempts": attempts, "lastAttempt": last})
    return out


def _data_reports(value: Any) -> list[dict[str, Any]]:
    out = []
    for r in _non_empty_list(value, "dataReports"):
        if not isinstance(r, dict) or not isinstance(r.get("message"), str):
            raise ValueError("dataReports: expected objects with a message")
        path, keyword, targets = r.get("path"), r.get("keyword"), r.get("targets")
        if path is not None and not isinstance(path, str):
            raise ValueError("dataReports.path: expected a string or null")
        if keyword is not None and not isinstance(keyword, str):
            raise ValueError("dataReports.keyword: expected a string or null")
        if targets is not None and not isinstance(targets, list):
            raise ValueError("dataReports.targets: expected a list or null")
        out.append({"message": r["message"], "path": path, "keyword": keyword, "targets": targets})
    return out


def _schema_issues(value: Any) -> list[dict[str, str]]:
    out = []
    for issue in _non_empty_list(value, "schemaIssues"):
        if not isinstance(issue, dict) or not isinstance(issue.get("path"), str):
            raise ValueError("schemaIssues: expected objects with a path")
        if not isinstance(issue.get("message"), str):
            raise ValueError("schemaIssues.message: expected a string")
        out.append({"path": issue["path"], "message": issue["message"]})
    return out
