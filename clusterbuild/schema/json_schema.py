"""JSON Schemas of the workspace files, for editors (a test keeps committed copies current)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from clusterbuild.errors import InputError
from clusterbuild.schema.models import AppSpec, Workspace

SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "workspace": (Workspace, "apps.yaml"), "app": (AppSpec, "clusterbuild.yaml")}


def json_schema(which: str) -> str:
    if which not in SCHEMAS:
        raise InputError(f"unknown schema {which!r}", hint=f"use one of: {', '.join(SCHEMAS)}")
    model, filename = SCHEMAS[which]
    doc = model.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = filename
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
