"""The city interface's documents say what the code does: every city route is in the OpenAPI file,
the item kinds and event types match, and the vocabulary table lists every event with its code."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from collector.http.platform_routes import add_platform_routes
from collector.outbound.city_feed import KINDS
from collector.platform.service import Platform, PlatformConfig
from protocols.events import CATALOG

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_openapi_lists_every_city_route_and_the_vocabulary(sqlite_url: str) -> None:
    spec = json.loads((DOCS / "city-openapi.json").read_text())
    assert spec["openapi"].startswith("3.0")
    app = web.Application()
    add_platform_routes(app, Platform(sqlite_url, PlatformConfig()), "token-12345678", run_tasks=False)
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith(("/city/", "/api/v1/city/"))
        and r.method != "HEAD"
    }
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert routes == documented
    schemas = spec["components"]["schemas"]
    assert tuple(schemas["PushItem"]["properties"]["kind"]["enum"]) == KINDS
    assert schemas["Alarm"]["properties"]["type"]["enum"] == [e.name for e in CATALOG]


def test_interface_doc_vocabulary_matches_the_catalog() -> None:
    text = (DOCS / "city-interface.md").read_text()
    for e in CATALOG:
        assert f"| `{e.name}` | {e.gbt_code or '—'} | {e.severity.value} |" in text, e.name
    for doc in ("rescue.md", "maintenance.md", "statistics.md"):
        assert (DOCS / doc).stat().st_size > 500


def test_openapi_required_fields_are_what_the_city_checks() -> None:
    from collector.http.city_api import _REQUIRED

    schemas = json.loads((DOCS / "city-openapi.json").read_text())["components"]["schemas"]
    names = {
        "elevator": "Elevator",
        "alarm": "Alarm",
        "rescue_case": "RescueCase",
        "maintenance_session": "MaintenanceSession",
        "status": "Status",
    }
    for kind, fields in _REQUIRED.items():
        assert set(schemas[names[kind]]["required"]) == set(fields), kind
