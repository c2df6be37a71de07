"""The official discovery document as JSON Schema, to validate the emulator's answers against."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DOC = REPO_ROOT.parent / "shared" / "data" / "real" / "discovery" / "youtube.v3.json"

_INTEGER_STRING = {"type": "string", "pattern": r"^-?[0-9]+$"}
_FORMATS: dict[str, dict[str, Any]] = {
    "uint64": {"type": "string", "pattern": r"^[0-9]+$"},
    "int64": _INTEGER_STRING,
    "date-time": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"},
    "google-datetime": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"},
    "google-duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
}


# Fields the live API sends that the discovery document does not list (publishTime: in every live
# search result since 2020, absent from the schema).
UNDOCUMENTED_BUT_REAL: dict[str, dict[str, Any]] = {
    "SearchResultSnippet": {"publishTime": _FORMATS["date-time"]},
}


@cache
def discovery_document() -> dict[str, Any]:
    """From ../shared when present, else the copy google-api-python-client ships."""
    if SHARED_DOC.exists():
        return dict(json.loads(SHARED_DOC.read_text()))
    import googleapiclient

    packaged = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "youtube.v3.json"
    return dict(json.loads(packaged.read_text()))


def _convert(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return {"$ref": f"#/definitions/{node['$ref']}"}
    kind = node.get("type")
    fmt = node.get("format")
    if kind == "string" and fmt in _FORMATS:
        return dict(_FORMATS[fmt])
    if kind == "string":
        out: dict[str, Any] = {"type": "string"}
        if "enum" in node:
            out["enum"] = node["enum"]
        return out
    if kind == "integer":
        out = {"type": "integer"}
        if fmt and fmt.startswith("uint"):
            out["minimum"] = 0
        return out
    if kind == "number":
        return {"type": "number"}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "array":
        return {"type": "array", "items": _convert(node.get("items", {}))}
    if kind == "object":
        out = {"type": "object"}
        if "properties" in node:
            out["properties"] = {name: _convert(sub) for name, sub in node["properties"].items()}
            # strict: the emulator may not invent fields the real API does not document
            out["additionalProperties"] = False
        if "additionalProperties" in node:
            out["additionalProperties"] = _convert(node["additionalProperties"])
        return out
    return {}  # "any"


@cache
def json_schema(schema_name: str) -> dict[str, Any]:
    """A draft-7 schema for one discovery schema (every other schema available as a definition)."""
    doc = discovery_document()
    definitions = {name: _convert(schema) for name, schema in doc["schemas"].items()}
    for name, extra in UNDOCUMENTED_BUT_REAL.items():
        definitions[name]["properties"].update(extra)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": definitions,
        "$ref": f"#/definitions/{schema_name}",
    }


def response_schema_name(resource: str, method: str) -> str:
    return str(discovery_document()["resources"][resource]["methods"][method]["response"]["$ref"])
