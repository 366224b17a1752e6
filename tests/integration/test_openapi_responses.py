"""/openapi.json documents the shape of every JSON answer under /api: no route answers an object the
schema leaves untyped (``dict[str, Any]``), at the top or anywhere inside."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from onceonly.settings import Settings
from store.engine import make_engine


def untyped_places(schema: Any, components: Mapping[str, Any], where: str, seen: set[str]) -> Iterator[str]:
    """Where ``schema`` (following ``$ref``s into ``components``) allows any value, or an object
    with any keys and values: ``{}``, ``{"type": "object"}``, ``{"additionalProperties": true}``."""
    if not isinstance(schema, Mapping):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from untyped_places(components[name], components, name, seen)
        return
    if not (set(schema) - {"title", "description"}):
        yield f"{where}: any value"
        return
    extra = schema.get("additionalProperties")
    if (schema.get("type") == "object" or "additionalProperties" in schema) and "properties" not in schema \
            and not isinstance(extra, Mapping):
        yield f"{where}: an object with any keys and values"
    for key, inner in schema.get("properties", {}).items():
        yield from untyped_places(inner, components, f"{where}.{key}", seen)
    for keyword in ("items", "additionalProperties"):
        yield from untyped_places(schema.get(keyword), components, f"{where}[]", seen)
    for keyword in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for inner in schema.get(keyword, []):
            yield from untyped_places(inner, components, where, seen)


def test_every_json_route_under_api_documents_a_typed_answer(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, id_hash_key="openapi-test-key", _env_file=None)
    client = TestClient(create_app(make_engine(settings.store_url), ["public_security"], settings))
    served = client.get("/openapi.json")
    assert served.status_code == 200
    document = served.json()
    components = document["components"]["schemas"]
    json_routes, untyped, silent = [], [], []
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if method not in ("get", "post"):
                continue
            route = f"{method.upper()} {path}"
            success = [answer for status, answer in operation["responses"].items() if status.startswith("2")]
            content = success[0].get("content", {}) if success else {}
            if "application/json" not in content:
                if not content:
                    silent.append(route)  # a file or a page: it still says which
                continue
            json_routes.append(route)
            untyped += [f"{route} → {place}" for place in untyped_places(
                content["application/json"].get("schema", {}), components, "answer", set())]
    assert len(json_routes) >= 45, json_routes  # residents, stewards, audit, users, planner, objections …
    assert untyped == []
    assert silent == []


def test_the_check_finds_an_answer_typed_as_any_dict() -> None:
    # What FastAPI writes for a route returning dict[str, Any], and a model holding one.
    components = {"Holder": {"type": "object", "properties": {"inner": {"type": "object", "additionalProperties": True}}}}
    assert list(untyped_places({"type": "object", "additionalProperties": True}, {}, "answer", set())) \
        == ["answer: an object with any keys and values"]
    assert list(untyped_places({"$ref": "#/components/schemas/Holder"}, components, "answer", set())) \
        == ["Holder.inner: an object with any keys and values"]
    assert list(untyped_places({}, {}, "answer", set())) == ["answer: any value"]
    assert list(untyped_places({"type": "object", "additionalProperties": {"type": "integer"}}, {}, "answer",
                               set())) == []
