"""The JSON Schema of the source format, generated from :data:`pipeline.source.fields.SOURCE`.

``schema/questions.schema.json`` is this function's output, committed so editors can use it
(the example source points at it with a ``yaml-language-server`` comment); a test keeps the
file and the generator in step.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.source.fields import SOURCE

SCHEMA_ID = "https://example.org/ds-interview-pipeline/questions.schema.json"


def source_schema() -> dict[str, Any]:
    schema = SOURCE.schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_json() -> str:
    return json.dumps(source_schema(), ensure_ascii=False, indent=2) + "\n"
