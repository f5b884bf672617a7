"""The console's ASGI app: one route per page, the polling endpoint, static files, auth and CSRF.

Pages are rendered by Jinja2 with autoescaping on for every template (event values are attacker
controlled), and every answer carries a Content-Security-Policy that allows only this server's own
script and stylesheet, so even a value that slipped through could not run. Sync handlers run in
Starlette's thread pool (SQLite, the lake and DuckDB block).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import ConfigError, RegistryUnavailable, TransientError
from embedded.console import badrows, events, health, recovery, schemas, warehouse_events
from embedded.console.event_view import build as build_event_view
from embedded.console.event_view import schema_link
from embedded.console.security import AUTH_COOKIE, CSRF_COOKIE, Auth, csrf_ok, is_loopback, new_csrf_token
from embedded.console.sources import SELF, ConsoleSources

__all__ = ["PATH_PREFIXES", "create_console", "is_console_path"]

HERE = Path(__file__).parent
STATIC = HERE / "static"
_STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript", "favicon.ico": "image/x-icon"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PATH_PREFIXES = ("/console/",)


def is_console_path(path: str) -> bool:
    """The paths `eventkit up` hands to the console (all others keep their owners)."""
    return path in ("/", "/console", "/favicon.ico") or path.startswith(PATH_PREFIXES)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["schema_link"] = schema_link
    env.filters["qs"] = lambda items: urlencode(list(items.items()) if isinstance(items, dict) else items)
    env.filters["bare"] = lambda uri: uri.removeprefix("iglu:") if isinstance(uri, str) else uri
    return env


class _Guard:
    """Auth for every console request, and the security headers on every answer."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not self.auth.enabled and not _local_host(request.headers.get("host", "")):
            # Open only on loopback: a page from another site whose name resolves here (DNS rebinding) is refused.
            response = Response("eventkit console: answers to localhost only\n", 403, media_type="text/plain")
            await response(scope, receive, send)
            return
        public = request.url.path == "/favicon.ico" or request.url.path.startswith("/console/static/")
        if not public and not self.auth.allows(request):
            response = Response(
                "eventkit console: authentication required (--console-auth)\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="eventkit console", charset="UTF-8"'},
                media_type="text/plain",
            )
            await response(scope, receive, send)
            return
        token = request.query_params.get("token")
        if self.auth.enabled and self.auth.user is None and token is not None and not public:
            # The token becomes a cookie and leaves the address bar (and the history) at once.
            rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303)
            response.set_cookie(AUTH_COOKIE, token, httponly=True, samesite="strict", path="/")
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _local_host(host: str) -> bool:
    """A Host header naming this machine's loopback (`localhost`, `127.0.0.1:9090`, `[::1]:9090`)."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") and host.count(":") == 1 else host
    if name.startswith("[") and "]" in name:
        name = name[1 : name.index("]")]
    return is_loopback(name)


def create_console(sources: ConsoleSources, *, auth: str | None = None) -> ASGIApp:
    """The console over `sources`; `auth` is the `--console-auth` value (None: no check)."""
    env = _environment()
    bad_rows_read = badrows.BadRowCache()

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
        counts = sources.store.counts() if sources.store is not None else None
        html = env.get_template(template).render(
            request=request, counts=counts, csrf=csrf, path=request.url.path, **context
        )
        response = HTMLResponse(html, status_code=status)
        if request.cookies.get(CSRF_COOKIE) != csrf:
            response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/console/")
        return response

    def problem(request: Request, status: int, message: str) -> HTMLResponse:
        return page(request, "problem.html", status, title="Not available", message=message)

    def warehouse_list(request: Request) -> Response:
        filters = events.EventFilters.from_query(request.query_params)
        assert sources.warehouse_url is not None
        try:
            rows = warehouse_events.list_events(
                sources.warehouse_url, filters, before=_param(request, "before") or None
            )
        except (ConfigError, TransientError) as e:
            return page(request, "events.html", 400, title="Events", filters=filters, rows=[], error=str(e), newest=0)
        older = rows[-1].cursor if len(rows) == events.PAGE_SIZE else None
        return page(
            request, "events.html", title="Events", filters=filters, rows=rows, error=None, live=False, newest=0,
            older=older, searched_to=None, from_warehouse=True,
        )  # fmt: skip

    def warehouse_event(request: Request) -> Response:
        found = None
        if warehouse_events.readable(sources.warehouse_url):
            assert sources.warehouse_url is not None
            try:
                found = warehouse_events.fetch(sources.warehouse_url, request.path_params["event_id"])
            except (ConfigError, TransientError) as e:
                return problem(request, 503, f"The warehouse could not be read: {e}")
        if found is None:
            return problem(request, 404, "No such event in the warehouse.")
        return page(request, "event.html", title="Event", body=found, view=build_event_view(found), from_warehouse=True)

    def live_events(request: Request) -> Response:
        if sources.store is None and warehouse_events.readable(sources.warehouse_url):
            return warehouse_list(request)
        if sources.store is None:
            return problem(request, 404, "No events here: start with `eventkit up`, --data-dir or --warehouse.")
        filters = events.EventFilters.from_query(request.query_params)
        before = _int(request.query_params.get("before"))
        try:
            found = events.list_events(sources.store, filters, before=before)
        except ConfigError as e:
            return page(
                request, "events.html", 400, title="Live events", filters=filters, rows=[], error=str(e), newest=0
            )
        rows = found.rows
        return page(
            request,
            "events.html",
            title="Live events",
            filters=filters,
            rows=rows,
            error=None,
            live=before is None,
            newest=events.newest_id(sources.store),
            older=rows[-1].id if len(rows) == events.PAGE_SIZE else found.searched_to,
            searched_to=found.searched_to,
        )

    def event_rows(request: Request) -> Response:
        """The polling endpoint: rows newer than `after` as HTML, and the header counts."""
        if sources.store is None:
            return JSONResponse({"error": "no Micro store"}, status_code=404)
        filters = events.EventFilters.from_query(request.query_params)
        after = _int(request.query_params.get("after")) or 0
        try:
            rows = events.list_events(sources.store, filters, after=after, budget_s=0.1).rows
        except ConfigError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        html = env.get_template("_event_rows.html").render(rows=rows, filters=filters)
        return JSONResponse(
            {
                "html": html,
                "last_id": rows[0].id if rows else max(after, events.newest_id(sources.store)),
                "rows": len(rows),
                "counts": sources.store.counts().to_json(),
            }
        )

    def one_event(request: Request) -> Response:
        if sources.store is None:
            return problem(request, 404, "No Micro store here.")
        row_id = _int(request.path_params["row"])
        found = events.fetch(sources.store, row_id) if row_id is not None else None
        if found is None:
            return problem(request, 404, "This event is not (or no longer) in the Micro store.")
        valid, body = found
        if valid:
            return page(request, "event.html", title="Event", body=body, view=build_event_view(body), row_id=row_id)
        errors = body.get("errors") or []
        doc = orjson.loads(errors[0]) if errors and isinstance(errors[0], str) else {}
        view = badrows.explain(doc if isinstance(doc, dict) else {}, sources.resolver())
        return page(request, "bad_row.html", title="Bad row", view=view, origin="micro", row_id=row_id)

    def bad_groups(request: Request) -> Response:
        lake = sources.lake()
        if lake is None:
            return problem(request, 404, "No lake here: start with --lake or --data-dir.")
        window = _window(request)
        try:
            summary = badrows.summary(lake, window, bad_rows_read)
        except (ConfigError, TransientError) as e:
            return problem(request, 503, f"The lake could not be read: {e}")
        chart = _bad_chart(summary, window)
        tree: dict[str, dict[str, list[tuple[str, str, int]]]] = {}
        for (type_name, schema, error, status), counts in summary._ordered():
            tree.setdefault(type_name, {}).setdefault(schema, []).append((error, status, sum(counts.values())))
        return page(
            request, "bad.html", title="Bad rows", summary=summary, tree=tree, chart=chart, window=window,
            windows=list(badrows.WINDOWS),
        )  # fmt: skip

    def bad_group(request: Request) -> Response:
        lake = sources.lake()
        if lake is None:
            return problem(request, 404, "No lake here.")
        group = _group(request)
        rows = [e for e in badrows.group_rows(lake, group.type_name, group.schema, group.window, cache=bad_rows_read)
                if recovery.group_of(e)[2] == group.error]  # fmt: skip
        return page(request, "bad_group.html", title="Bad-row group", group=group, rows=rows)

    def bad_row(request: Request) -> Response:
        lake = sources.lake()
        line = _int(request.query_params.get("line"))
        file = request.query_params.get("file", "")
        doc = badrows.read_row(lake, file, line) if lake is not None and line is not None else None
        if doc is None:
            return problem(request, 404, "No such bad row in the lake.")
        view = badrows.explain(doc, sources.resolver())
        return page(request, "bad_row.html", title="Bad row", view=view, origin="lake", file=file, line=line)

    def schema_tree(request: Request) -> Response:
        store = sources.schemas()
        if store is None:
            return problem(request, 404, "The registry is not a folder or bucket the console can list.")
        try:
            tree = schemas.tree(store)
        except RegistryUnavailable as e:
            return problem(request, 503, f"The registry could not be read: {e}")
        return page(request, "schemas.html", title="Schemas", tree=tree)

    def schema_version(request: Request) -> Response:
        store = sources.schemas()
        p = request.path_params
        key = schemas.key_from_parts(p["vendor"], p["name"], p["version"])
        schema = store.get(key) if store is not None and key is not None else None
        if store is None or key is None or schema is None:
            return problem(request, 404, "No such schema in the registry.")
        versions = schemas.versions(schemas.tree(store), key)
        other = _param(request, "diff")
        comparison = None
        if other:
            other_key = schemas.key_from_parts(key.vendor, key.name, other)
            other_schema = store.get(other_key) if other_key is not None else None
            if other_key is None or other_schema is None:
                return problem(request, 404, "No such version to compare with.")
            old_key, old, new_key, new = (other_key, other_schema, key, schema)
            if _order(other_key.version) > _order(key.version):
                old_key, old, new_key, new = (key, schema, other_key, other_schema)
            comparison = {
                "old": old_key,
                "new": new_key,
                "diff": schemas.verdict(old, new),
                "old_json": _pretty(old),
                "new_json": _pretty(new),
            }
        return page(
            request,
            "schema.html",
            title=key.uri,
            key=key,
            schema_json=_pretty(schema),
            versions=versions,
            findings=schemas.lint(schema, key),
            seen=schemas.seen_last_day(sources.store, key),
            comparison=comparison,
        )

    def recovery_preview(request: Request) -> Response:
        lake, resolver = sources.lake(), sources.fresh_resolver()
        if lake is None or resolver is None:
            return problem(request, 404, "Recovery needs the lake and the registry.")
        group = _group(request)
        result = recovery.plan(lake, resolver, group).report()
        return page(
            request, "recovery.html", title="Recovery", group=group, report=result, step="preview",
            can_send=sources.raw_url is not None,
        )  # fmt: skip

    async def recovery_post(request: Request) -> Response:
        form = await _form(request)
        if not csrf_ok(request, form.get("csrf")):
            return problem(request, 403, "This replay request did not come from the console's own page; nothing sent.")
        lake, resolver = sources.lake(), sources.fresh_resolver()
        if lake is None or resolver is None or sources.raw_url is None:
            return problem(request, 404, "Replay needs the lake, the registry and the raw queue (--raw).")
        group = recovery.Group(
            str(form.get("type", "")), str(form.get("schema", "")), str(form.get("error", "")),
            _window_value(str(form.get("window", ""))),
        )  # fmt: skip
        from starlette.concurrency import run_in_threadpool

        if form.get("confirm") != "yes":
            report = (await run_in_threadpool(recovery.plan, lake, resolver, group)).report()
            return page(request, "recovery.html", title="Confirm replay", group=group, report=report,
                        step="confirm", can_send=True)  # fmt: skip
        report = await run_in_threadpool(recovery.send, lake, resolver, group, sources.raw_url)
        return page(request, "recovery.html", title="Replay sent", group=group, report=report, step="sent",
                    can_send=False)  # fmt: skip

    async def health_page(request: Request) -> Response:
        base = sources.metrics_base
        if base == SELF:
            server = request.scope.get("server") or ("127.0.0.1", 80)
            host = server[0] if server[0] not in ("0.0.0.0", "::", "") else "127.0.0.1"
            base = f"http://[{host}]:{server[1]}" if ":" in host else f"http://{host}:{server[1]}"
        figures = await health.collect(sources.store, base, sources.raw_url, sources.warehouse_url)
        return page(request, "health.html", title="Health", health=figures)

    def static(request: Request) -> Response:
        name = request.path_params.get("name", "favicon.ico")
        if name not in _STATIC_FILES:
            return Response("not found\n", status_code=404, media_type="text/plain")
        return FileResponse(STATIC / name, media_type=_STATIC_FILES[name], headers={"Cache-Control": "max-age=3600"})

    def home(_: Request) -> Response:
        return RedirectResponse("/console/events", status_code=302)

    routes = [
        Route("/", home),
        Route("/console", home),
        Route("/console/", home),
        Route("/console/events", live_events),
        Route("/console/events/rows", event_rows),
        Route("/console/events/{row}", one_event),
        Route("/console/warehouse/{event_id}", warehouse_event),
        Route("/console/bad", bad_groups),
        Route("/console/bad/group", bad_group),
        Route("/console/bad/row", bad_row),
        Route("/console/schemas", schema_tree),
        Route("/console/schemas/{vendor}/{name}/{version}", schema_version),
        Route("/console/recovery", recovery_preview, methods=["GET"]),
        Route("/console/recovery", recovery_post, methods=["POST"]),
        Route("/console/health", health_page),
        Route("/console/static/{name}", static),
        Route("/favicon.ico", static),
    ]
    app = Starlette(routes=routes)

    async def not_found(request: Request, _: Exception) -> Response:
        return problem(request, 404, "No such page.")

    app.add_exception_handler(404, not_found)
    return _Guard(app, Auth(auth))


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the replay form's few fields; at most 64 KiB), first value of each name."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > 65536:
            return {}
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


_SQLITE_INT = range(-(2**63), 2**63)  # a row id or line number outside it names nothing (and SQLite refuses it)


def _int(value: Any) -> int | None:
    """An integer query or path parameter; None when absent, not a number, or beyond any stored id."""
    try:
        number = int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return number if number is None or number in _SQLITE_INT else None


def _param(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    return value[:500]


def _window_value(value: str) -> str:
    return value if value in badrows.WINDOWS else "24h"


def _window(request: Request) -> str:
    return _window_value(_param(request, "window"))


def _group(request: Request) -> recovery.Group:
    return recovery.Group(
        _param(request, "type"), _param(request, "schema"), _param(request, "error"), _window(request)
    )


def _order(version: Any) -> tuple[int, int, int]:
    return (version.model, version.revision, version.addition)


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _bad_chart(summary: Any, window: str) -> Any:
    """Bad rows per hour (or day) of the whole window, one stacked series per type."""
    from datetime import UTC, datetime, timedelta

    from embedded.console.charts import bar_chart

    if not summary.total:
        return None
    span, bucket = badrows.WINDOWS[window]
    now = datetime.now(tz=UTC)
    if bucket == "hour":
        start = now.replace(minute=0, second=0, microsecond=0)
        hours = int(span / timedelta(hours=1))
        labels = [f"{start - timedelta(hours=h):%Y-%m-%d %H}:00" for h in range(hours - 1, -1, -1)]
    else:
        labels = [f"{now - timedelta(days=d):%Y-%m-%d}" for d in range(span.days - 1, -1, -1)]
    by_type: dict[str, list[int]] = {}
    for (type_name, _, _, _), counts in summary.groups.items():
        series = by_type.setdefault(type_name, [0] * len(labels))
        for i, label in enumerate(labels):
            series[i] += counts.get(label, 0)
    return bar_chart(labels, by_type, title=f"Bad rows per {bucket} by type (UTC)", first_colour=1)
