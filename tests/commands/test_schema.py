"""The shipped JSON Schema and the validator agree on every fixture.

Editors see the schema's verdict inline (yaml-language-server, YAML 1.2); the build uses the
validator. Fixtures whose only problems are beyond JSON Schema (duplicate keys and ids, missing
images) must pass the schema and fail the validator; those that do not load as YAML are the
loader's business and are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.build.run import check
from pipeline.commands.schema import schema_json, source_schema
from pipeline.errors import PipelineError
from pipeline.source.spec import core_type
from tests.support.banks import ROOT, TESTS

FIXTURES = TESTS / "fixtures" / "source"
SCHEMA_FILE = ROOT / "schema" / "questions.schema.json"
#: Problems JSON Schema cannot express: the schema accepts these, the validator does not.
BEYOND_SCHEMA = {"duplicate-key", "duplicate-id", "missing-image", "image-outside"}
#: Files that do not load as YAML at all (or only by expanding an alias bomb).
NOT_YAML = {"syntax-error", "tab-indent", "invalid-utf8", "empty", "alias-bomb"}


def yaml12(node: Node) -> Any:
    """What a YAML 1.2 reader (an editor's language server) makes of a document."""
    if isinstance(node, SequenceNode):
        return [yaml12(child) for child in node.value]
    if isinstance(node, MappingNode):
        return {yaml12(k): yaml12(v) for k, v in node.value}
    assert isinstance(node, ScalarNode)
    kind, value = core_type(node), node.value
    if kind == "null":
        return None
    if kind == "bool":
        return value.lower() == "true"
    if kind == "int":
        return int(value, 0)
    if kind == "float":
        return float(value.replace(".inf", "inf").replace(".nan", "nan"))
    return value


def schema_accepts(path: Path) -> bool:
    data = yaml12(yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader))
    errors = list(jsonschema.Draft202012Validator(source_schema()).iter_errors(data))
    return not errors


def validator_accepts(path: Path) -> bool:
    try:
        check(path)
    except PipelineError:
        return False
    return True


def test_committed_schema_is_generated_from_the_validator_table() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_json(), (
        "run: python -m pipeline schema --output schema/questions.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_json()))


GOOD = [*sorted((FIXTURES / "good").glob("*.yaml")), ROOT / "content" / "questions.yaml"]


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_sources_pass_both(path: Path) -> None:
    assert validator_accepts(path)
    assert schema_accepts(path)


BAD = [p for p in sorted((FIXTURES / "bad").glob("*.yaml")) if p.stem not in NOT_YAML]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_sources_fail_the_validator_and_the_schema_agrees(path: Path) -> None:
    assert not validator_accepts(path)
    assert schema_accepts(path) is (path.stem in BEYOND_SCHEMA)


MUTATIONS = {
    "grade-yes": ("grades: [middle, junior]", "grades: [yes]"),
    "grade-bool": ("grades: [middle, junior]", "grades: [true]"),
    "id-number": ("id: second", "id: 12"),
    "id-quoted-number": ("id: second", "id: '12'"),
    "empty-question": ("question: 'Вопрос в кавычках: #2'", "question: ' '"),
    "unknown-setting": ("  slug: test-deck", "  slug: test-deck\n  colour: red"),
    "slot-number": ("slots: [tue 09:00, fri 18:30]", "slots: [1]"),
    "no-slots": ("slots: [tue 09:00, fri 18:30]", "slots: []"),
    "header-two-lines": ("header: 🧪", 'header: "a\\nb"'),
    "quiz-one-option": ("options: [да, нет]", "options: [да]"),
    "quiz-13-options": ("options: [да, нет]", f"options: [{', '.join(map(str, range(13)))}]"),
    "quiz-long-explanation": ("explanation: Ключи", f"explanation: {'о' * 201}"),
    "explanation-3-lines": (
        "explanation: Ключи и значения — текст, пока не доказано обратное.",
        'explanation: "a\\nb\\nc\\nd"',
    ),
    "bad-url": ("url: https://t.me/example", "url: t.me/example"),
    "bad-service": ("unsubscribe: listmonk", "unsubscribe: sendgrid"),
    "tags-null": ('tags: [yaml, "2024"]', "tags:"),
    "tag-duplicate": ('tags: [yaml, "2024"]', "tags: [yaml, yaml]"),
    "tags-plain-number": ('tags: [yaml, "2024"]', "tags: [yaml, 2024]"),
    "publish-date-only": ("publish_at: 2026-12-02 10:00", "publish_at: 2026-12-02"),
    "publish-with-offset": ("publish_at: 2026-12-02 10:00", "publish_at: 2026-12-02T10:00+03:00"),
    "slot-no-time": ("slots: [tue 09:00, fri 18:30]", "slots: [tue]"),
    "start-not-a-date": ("start: 2026-12-01", "start: next monday"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_schema_and_validator_agree_on_mutations(name: str, tmp_path: Path) -> None:
    old, new = MUTATIONS[name]
    text = (FIXTURES / "good" / "everything.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "questions.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "dot.png").write_bytes((FIXTURES / "good" / "img" / "dot.png").read_bytes())
    assert validator_accepts(path) == schema_accepts(path)
