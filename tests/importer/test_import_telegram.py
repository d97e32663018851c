"""``import-telegram`` on exports constructed from the seed posts (tests/fixtures/telegram_export).

The fixture holds the channel's seed posts as Telegram Desktop exports them: entities, both
shapes of ``text``, one message without ``text_entities``, a poll, ads, a forwarded post,
service messages, a photo without text and a coding task with a ``pre`` block.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.importer.bank import merged_text, new_file_text, open_bank
from pipeline.importer.ids import slugify
from pipeline.importer.plan import plan_import
from pipeline.importer.posts import convert
from pipeline.importer.telegram_export import read_export
from pipeline.importer.yaml_writer import read_back
from pipeline.source.read import load_source
from pipeline.source.validate import validate
from tests.support.banks import SEED, TESTS, build_into, run_cli

FIXTURES = TESTS / "fixtures" / "telegram_export"
EXPORT = FIXTURES / "result.json"
EXPECTED = FIXTURES / "expected.yaml"
SCHEMA = "../schema/questions.schema.json"


def imported(include_ungraded: bool = False) -> dict[str, Any]:
    """id -> entry of the fixture's import."""
    result = convert(read_export(EXPORT), include_ungraded=include_ungraded)
    return {e.id: e for e in result.entries}


# --- what becomes a question -----------------------------------------------------------------


def test_questions_ids_grades_tags_and_times() -> None:
    got = [
        (e.id, e.header, e.question, e.grades, e.tags, e.publish_at) for e in imported().values()
    ]
    assert got == [
        (
            "chem-logisticheskaya-regressiya-otlichaetsya-ot-lineynoy",
            None,
            "Чем логистическая регрессия отличается от линейной?",
            ("junior",),
            (),
            "2023-11-21 18:30+03:00",
        ),
        (
            "dlya-chego-ispolzuyut-batch-normalization",
            None,
            "Для чего используют batch normalization?",
            ("junior", "middle"),
            (),
            "2023-11-22 10:00+03:00",
        ),
        (
            "kakie-metriki-kachestva-ranzhirovaniya-vy-znaete",
            None,
            "Какие метрики качества ранжирования вы знаете?",
            ("middle",),
            ("metriki", "rekomendatelnye-sistemy"),
            "2023-11-23 18:30+03:00",
        ),
        (
            "s-tochki-zreniya-biznes-protsessov-v-chem-raznitsa-mezhdu",
            "👨‍💼",
            "С точки зрения бизнес-процессов в чём разница между метрикой качества и функцией "
            "потерь?",
            ("junior", "middle"),
            (),
            "2023-11-24 10:00+03:00",
        ),
        (
            "kak-rabotaet-knn-k-blizhayshikh-sosedey-ili-k-nearest",
            None,
            "Как работает KNN (k-ближайших соседей, или k-nearest neighbors)?",
            ("junior",),
            (),
            "2023-11-27 10:00+03:00",
        ),
        (
            "reshenie-zadachi-na-python-pro-summu-diagonaley-matritsy",
            "👩‍💻",
            "Решение задачи на Python про сумму диагоналей матрицы",
            ("junior", "middle"),
            (),
            "2023-11-28 18:30+03:00",
        ),
        (
            "obyasnite-kak-ispolzuetsya-entropiya-v-protsesse-postroeniya",
            None,
            "Объясните, как используется энтропия в процессе построения дерева решений? Что ещё "
            "может использоваться вместо энтропии?",
            ("junior", "middle"),
            (),
            "2023-11-30 10:00+03:00",
        ),
        (
            "v-chem-raznitsa-mezhdu-l1-i-l2-regulyarizatsiyami",
            None,
            "В чём разница между L1- и L2-регуляризациями?",
            ("junior", "middle"),
            ("regularization",),
            "2023-11-30 18:30+03:00",
        ),
    ]


def test_skipped_messages_are_reported_with_id_date_and_reason() -> None:
    result = convert(read_export(EXPORT))
    got = [(s.message_id, s.date, s.reason.split(":")[0].split(" «")[0]) for s in result.skipped]
    assert got == [
        (1, "2023-11-01 12:00", "service message (create_channel)"),
        (2, "2023-11-20 10:00", "forwarded from"),
        (3, "2023-11-20 12:00", "poll"),
        (4, "2023-11-20 18:30", "no grade hashtag (#junior, #middle, #senior)"),
        (5, "2023-11-21 12:00", "no grade hashtag (#junior, #middle, #senior)"),
        (12, "2023-11-29 12:00", "no grade hashtag (#junior, #middle, #senior)"),
        (14, "2023-11-30 15:00", "no grade hashtag (#junior, #middle, #senior)"),
        (16, "2023-11-30 19:00", "photo without text"),
        (17, "2023-11-30 19:05", "service message (pin_message)"),
    ]
    roc = result.skipped[3].reason
    assert "«Как изменится ROC-AUC" in roc and "--include-ungraded imports it" in roc
    assert "--include-ungraded" not in result.skipped[4].reason  # an ad is no question
    assert result.notes == ()


# --- Markdown --------------------------------------------------------------------------------


def test_plain_string_text_without_entities() -> None:
    entry = imported()["chem-logisticheskaya-regressiya-otlichaetsya-ot-lineynoy"]
    assert entry.answer.startswith("Если линейная регрессия предсказывает само значение")
    assert entry.answer.endswith("может применяться оценка максимального правдоподобия.\n")
    assert entry.answer.count("\n\n") == 1 and "#junior" not in entry.answer


def test_bullet_lines_become_a_list() -> None:
    assert imported()["dlya-chego-ispolzuyut-batch-normalization"].answer == (
        "Это метод, который нормализует входы нейросети. На специальном слое batch "
        "normalization текущий батч (пакет данных) приводится к нулевому среднему и единичной "
        "дисперсии.\n"
        "\n"
        "Это позволяет:\n"
        "\n"
        "- быстрее обучаться, так как все числа получаются одного порядка;\n"
        "- улучшить сходимость нейросети;\n"
        "- сделать сеть менее чувствительной к выбору начальных значений весов;\n"
        "- даже бороться с переобучением.\n"
        "\n"
        "Стоит отметить, что до сих пор идут дискуссии о причинах эффективной работы batch "
        "normalization.\n"
    )


def test_bold_item_heads_nested_dash_lines_and_a_text_link() -> None:
    answer = imported()["kakie-metriki-kachestva-ranzhirovaniya-vy-znaete"].answer
    lines = answer.split("\n")
    assert lines[2].startswith("- **Precision at K (p@K).** Это метрика качества")
    assert lines[4].startswith("- **Normalized Discounted Cumulative Gain (NDCG).** Здесь")
    assert [line[:12] for line in lines[5:8]] == ["    - Сначал", "    - Далее ", "    - В конц"]
    assert lines[8].startswith("- **Mean Reciprocal Rank (MRR).** Метрика")
    assert lines[9:] == [
        "",
        "Формулы можно найти [в этой статье](https://habr.com/ru/companies/"
        "econtenta/articles/303458/)",
        "",
    ]


def test_emoji_header_and_checkmark_bullets_without_space() -> None:
    entry = imported()["s-tochki-zreniya-biznes-protsessov-v-chem-raznitsa-mezhdu"]
    assert entry.header == "👨‍💼"
    assert "Если коротко:\n\n- функция потерь возникает, когда" in entry.answer
    assert "\n- метрика же является объективным критерием" in entry.answer
    assert "✔" not in entry.answer


def test_italic_inside_list_items() -> None:
    answer = imported()["kak-rabotaet-knn-k-blizhayshikh-sosedey-ili-k-nearest"].answer
    assert "\n- Выбирается число *k* — параметр" in answer
    assert "среднее по *k* соседям.\n" in answer


def test_coding_task_keeps_bold_inline_code_and_fenced_python() -> None:
    entry = imported()["reshenie-zadachi-na-python-pro-summu-diagonaley-matritsy"]
    assert entry.header == "👩‍💻"
    assert entry.answer.startswith(
        "**Задача:** Дана матрица `mat`. Напишите функцию, которая возвращает сумму элементов "
        "диагоналей матрицы.\n\n"
    )
    # A lone emoji at a line start is decoration, not a one-item list.
    assert (
        "\n\n🧩 Мы будем проходиться в цикле и сразу прибавлять к результату значения "
        "матрицы по индексам i (`mat[i][i]`)." in entry.answer
    )
    assert "к результату `mat[i][n-i-1]`. Эта проверка" in entry.answer
    assert entry.answer.endswith(
        "\n\n```python\n"
        "def diagonal_sum(mat: list[list[int]]) -> int:\n"
        "    n = len(mat)\n"
        "    total = 0\n"
        "    for i in range(n):\n"
        "        total += mat[i][i]\n"
        "        if i != n - i - 1:\n"
        "            total += mat[i][n - i - 1]\n"
        "    return total\n"
        "```\n"
        "\n"
        "Это будет решение за O(n), так как мы один раз проходимся в цикле по элементам "
        "матрицы.\n"
    )


def test_blockquote_and_list_run_ends_at_a_blank_line() -> None:
    answer = imported()["obyasnite-kak-ispolzuetsya-entropiya-v-protsesse-postroeniya"].answer
    blocks = answer.split("\n\n")
    assert blocks[0] == (
        "> Энтропия измеряет непредсказуемость реализации случайной величины, "
        "или иными словами неопределённость в данных."
    )
    assert blocks[1].startswith("🌲 В контексте построения дерева-классификатора")
    assert blocks[3].startswith("- Допустим, у нас есть по 25 точек каждого класса")
    assert "например, по `X <= 5`. Тогда" in blocks[3]
    assert blocks[3].count("\n- ") == 1
    assert blocks[4].startswith("🌲 Помимо энтропии")  # after a blank line: not an item


# --- the file --------------------------------------------------------------------------------


def test_file_matches_the_expected_file() -> None:
    text = new_file_text(convert(read_export(EXPORT)), SCHEMA)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        EXPECTED.write_text(text, encoding="utf-8")
    assert text == EXPECTED.read_text(encoding="utf-8")


def test_every_value_reads_back_exactly() -> None:
    result = convert(read_export(EXPORT), include_ungraded=True)
    entries = {e.id: e for e in result.entries}
    for got in read_back(new_file_text(result, SCHEMA)):
        meant = entries[str(got["id"])]
        assert got["question"] == meant.question
        assert got["answer"] == meant.answer
        assert got["grades"] == meant.grades
        assert got.get("header") == meant.header


def test_imported_file_validates_and_builds(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    source = content / "imported.yaml"
    source.write_text(EXPECTED.read_text(encoding="utf-8"), encoding="utf-8")
    bank = validate(load_source(source)).bank
    by_id = {e.id: e for e in imported().values()}
    assert [q.id for q in bank.questions] == list(by_id)
    for q in bank.questions:
        assert q.answer == by_id[q.id].answer  # what the loader reads is what we meant
        assert q.question == by_id[q.id].question
    report = build_into(source, tmp_path / "dist")
    assert report.files
    assert {q.id for q in report.bank.questions} == set(by_id)


def test_cli_second_import_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "content" / "imported.yaml"
    first = run_cli("import-telegram", str(EXPORT), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"{out}: wrote 8 questions from 17 messages of ")
    assert "message 3      2023-11-20 12:00  poll «Вопросы" in first.stdout
    data = out.read_bytes()
    refused = run_cli("import-telegram", str(EXPORT), "--out", str(out))
    assert refused.returncode == 2
    assert "already exists: use --merge" in refused.stderr
    again = run_cli("import-telegram", str(FIXTURES), "--out", str(out), "--force")
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == data
    assert data.decode().startswith("# yaml-language-server: $schema=")


def test_cli_dry_run_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    done = run_cli("import-telegram", str(EXPORT), "--out", str(out), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would write 8 questions" in done.stdout
    assert not out.exists()


def test_include_ungraded_writes_a_placeholder_that_validation_stops_on(tmp_path: Path) -> None:
    entry = imported(include_ungraded=True)[
        "kak-izmenitsya-roc-auc-esli-k-veroyatnostyam-prinadlezhnosti"
    ]
    assert entry.grades == ("TODO",)
    assert entry.publish_at == "2023-11-20 18:30:04+03:00"
    out = tmp_path / "imported.yaml"
    done = run_cli("import-telegram", str(EXPORT), "--out", str(out), "--include-ungraded")
    assert done.returncode == 0, done.stderr
    assert "1 question need grades (grades: [TODO]): kak-izmenitsya-roc-auc" in done.stdout
    text = out.read_text(encoding="utf-8")
    line = text.splitlines().index("    grades: [TODO]") + 1
    assert text.splitlines()[line - 2].strip().startswith("# TODO: the post had no grade")
    checked = run_cli("validate", "--source", str(out))
    assert checked.returncode == 1
    assert (
        f"{out}:{line}:14: questions[0].grades[0]: expected one of junior, middle, "
        "senior; got 'TODO'" in checked.stderr
    )


# --- merge -----------------------------------------------------------------------------------


def copy_seed(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(SEED, content / "questions.yaml")
    shutil.copy(SEED.with_name("questions.lock.json"), content / "questions.lock.json")
    return content / "questions.yaml"


@pytest.mark.parametrize("include_ungraded", [False, True])
def test_merge_into_the_seed_bank_adds_nothing(tmp_path: Path, include_ungraded: bool) -> None:
    bank = copy_seed(tmp_path)
    before = bank.read_bytes()
    plan = plan_import(EXPORT, bank, merge=True, include_ungraded=include_ungraded)
    assert plan.text is None and plan.result.imported == ()
    already = [
        s.reason.split(":")[0] for s in plan.result.skipped if s.reason.startswith("already")
    ]
    expected = [
        "already in the bank as 'logistic-vs-linear-regression'",
        "already in the bank as 'batch-normalization'",
        "already in the bank as 'ranking-metrics'",
        "already in the bank as 'metric-vs-loss'",
        "already in the bank as 'knn'",
        "already in the bank as 'matrix-diagonal-sum'",
        "already in the bank as 'decision-tree-entropy'",
        "already in the bank as 'l1-vs-l2'",
    ]
    if include_ungraded:
        expected.insert(0, "already in the bank as 'roc-auc-log'")
    assert already == expected
    args = ["--include-ungraded"] if include_ungraded else []
    done = run_cli("import-telegram", str(EXPORT), "--merge", str(bank), *args)
    assert done.returncode == 0, done.stderr
    assert "nothing to import" in done.stdout
    assert bank.read_bytes() == before


SMALL_BANK = """\
# yaml-language-server: $schema=../schema/questions.schema.json
# The editor's own comment stays where it is.

schedule:
  timezone: Europe/Moscow

questions:
  # Batch normalization was typed in by hand, with its own id.
  - id: batch-norm
    question: Для чего используют batch normalization?
    answer: |
      Чтобы нормализовать входы слоя.
    grades: [junior]
    # a comment inside the last question stays with it

# A comment after the list, about what follows.
newsletter:
  title: Дайджест
"""


def test_merge_appends_after_the_last_question_and_keeps_the_text(tmp_path: Path) -> None:
    bank = tmp_path / "content" / "questions.yaml"
    bank.parent.mkdir()
    bank.write_text(SMALL_BANK, encoding="utf-8")
    done = run_cli("import-telegram", str(EXPORT), "--merge", str(bank))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{bank}: appended 7 questions")
    assert "already in the bank as 'batch-norm'" in done.stdout
    text = bank.read_text(encoding="utf-8")
    cut = "    # a comment inside the last question stays with it\n"
    head, tail = text.split("\n# A comment after the list")
    assert head.startswith(SMALL_BANK.split(cut)[0] + cut)
    assert tail == SMALL_BANK.split("\n# A comment after the list")[1]
    appended = head[len(SMALL_BANK.split(cut)[0] + cut) :]
    assert appended.startswith("\n  - id: chem-logisticheskaya-regressiya-otlichaetsya")
    bank_model = validate(load_source(bank)).bank
    assert len(bank_model.questions) == 8
    assert bank_model.settings.newsletter.title == "Дайджест"
    build_into(bank, tmp_path / "dist")
    again = run_cli("import-telegram", str(EXPORT), "--merge", str(bank))
    assert again.returncode == 0 and "nothing to import" in again.stdout
    assert bank.read_text(encoding="utf-8") == text


def test_merge_skips_a_post_whose_id_is_taken_and_suffixes_lock_ids(tmp_path: Path) -> None:
    bank = tmp_path / "questions.yaml"
    edited = SMALL_BANK.replace(
        "id: batch-norm", "id: kak-rabotaet-knn-k-blizhayshikh-sosedey-ili-k-nearest"
    ).replace("Для чего используют batch normalization?", "Как работает KNN?")
    bank.write_text(edited, encoding="utf-8")
    lock = {
        "version": 1,
        "sections": {
            "schedule": {"dlya-chego-ispolzuyut-batch-normalization": "2023-01-02T10:00:00+03:00"}
        },
    }
    bank.with_name("questions.lock.json").write_text(json.dumps(lock), encoding="utf-8")
    opened = open_bank(bank)
    # Not the same text, but the same id: the KNN post was imported before and then edited.
    opened_texts = dict(opened.existing.texts)
    assert "kak-rabotaet-knn-k-blizhayshikh-sosedey-ili-k-nearest" in opened_texts.values()
    result = convert(read_export(EXPORT), opened.existing)
    reasons = {s.message_id: s.reason for s in result.skipped}
    assert reasons[10].startswith(
        "id 'kak-rabotaet-knn-k-blizhayshikh-sosedey-ili-k-nearest' is already in the bank"
    )
    ids = [e.id for e in result.entries]
    # The batch-normalization question is new here, but its id was used once (the lock
    # remembers it), and ids are never reused.
    assert "dlya-chego-ispolzuyut-batch-normalization-2" in ids
    assert "dlya-chego-ispolzuyut-batch-normalization" not in ids
    merged = merged_text(opened, result.entries)
    assert len(read_back(merged)) == 1 + len(result.entries)


def test_merge_into_an_empty_flow_list(tmp_path: Path) -> None:
    bank = tmp_path / "questions.yaml"
    bank.write_text("# my bank\nquestions: []\n", encoding="utf-8")
    plan = plan_import(EXPORT, bank, merge=True)
    assert plan.text is not None and plan.text.startswith("# my bank\nquestions:\n  - id: chem-")
    bank.write_text(plan.text, encoding="utf-8")
    assert len(validate(load_source(bank)).bank.questions) == 8


def test_slugs_are_transliterated_and_bounded() -> None:
    assert (
        slugify("Что такое p-value? Объясните «на пальцах»")
        == "chto-takoe-p-value-obyasnite-na-paltsakh"
    )
    assert slugify("Щука, ёж и Юля: съешь ещё") == "shchuka-ezh-i-yulya-sesh-eshche"
    assert slugify("Café déjà vu") == "cafe-deja-vu"
    long = slugify("слово " * 30)
    assert len(long) <= 60 and not long.endswith("-") and long.startswith("slovo-slovo")
    assert slugify("🔥🔥") == ""
