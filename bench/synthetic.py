"""Synthetic question banks for the benchmark: realistic answers, deterministic per seed.

Answers mix what real ones hold: paragraphs with bold and inline code, bullet and numbered
lists (some nested), a fenced code block, inline and display math, and a table.
"""

from __future__ import annotations

import random
from pathlib import Path

WORDS = [
    "модель",
    "признак",
    "выборка",
    "метрика",
    "градиент",
    "регуляризация",
    "дерево",
    "ансамбль",
    "батч",
    "нейросеть",
    "вероятность",
    "классификатор",
    "регрессия",
    "оптимизация",
    "переобучение",
    "ошибка",
    "данные",
    "кластер",
    "энтропия",
    "точность",
    "полнота",
    "функция",
    "потерь",
    "слой",
]
GRADES = ("junior", "middle", "senior")
TAGS = ("metrics", "classical-ml", "deep-learning", "python", "statistics", "nlp", "sql")


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words[rng.randrange(n)] = f"**{rng.choice(WORDS)}**"
    if rng.random() < 0.3:
        words[rng.randrange(n)] = f"`x_{rng.randrange(100)}`"
    return " ".join(words).capitalize() + "."


def answer(rng: random.Random, i: int) -> str:
    parts = [" ".join(_sentence(rng, rng.randint(6, 14)) for _ in range(3))]
    parts.append("\n".join(f"- {_sentence(rng, 6)}" for _ in range(rng.randint(2, 4))))
    if i % 3 == 0:
        parts.append("1. первый шаг\n    - вложенный пункт\n2. второй шаг")
    if i % 2 == 0:
        parts.append(f"```python\ndef f_{i}(x):\n    return x ** 2 + {i}  # < & __init__\n```")
    parts.append(
        f"Формула: $\\sigma(z_{i}) = \\frac{{1}}{{1 + e^{{-z}}}}$ и $$\\sum_{{k=1}}^{{n}} k^2$$"
    )
    if i % 4 == 0:
        parts.append("| метрика | значение |\n|---|---|\n| accuracy | 0.9 |\n| f1 | 0.8 |")
    parts.append(" ".join(_sentence(rng, rng.randint(6, 14)) for _ in range(2)))
    return "\n\n".join(parts)


#: Slots are planned up to 2037-12-31 (the last day the calendar and Telegram express): a bank
#: this large needs more than the channel's three posts a week to fit in about ten years.
YEARS = 10
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def slots(n: int) -> list[str]:
    """Three a week (the channel's rhythm) while ``n`` questions fit in :data:`YEARS`, else
    enough a day to make them fit."""
    if n <= 3 * 52 * YEARS:
        return ["mon 10:00", "wed 10:00", "fri 18:30"]
    per_day = -(-n // (7 * 52 * YEARS))
    return [f"{day} {8 + k // 4:02d}:{(k % 4) * 15:02d}" for day in DAYS for k in range(per_day)]


def bank_yaml(n: int, seed: int = 1) -> str:
    """A valid source with ``n`` questions."""
    rng = random.Random(seed)
    out = [
        "schedule:\n  timezone: Europe/Moscow\n  start: 2026-12-01\n"
        f"  slots: [{', '.join(slots(n))}]\n",
        "questions:\n",
    ]
    for i in range(n):
        grades = sorted(rng.sample(GRADES, rng.randint(1, 2)), key=GRADES.index)
        tags = sorted(rng.sample(TAGS, 2))
        body = "\n".join("      " + line if line else "" for line in answer(rng, i).split("\n"))
        out.append(
            f"  - id: q-{i:06d}\n"
            f"    question: Вопрос номер {i} — {_sentence(rng, 8)[:-1]}?\n"
            f"    answer: |\n{body}\n"
            f"    grades: [{', '.join(grades)}]\n"
            f"    tags: [{', '.join(tags)}]\n"
        )
    return "".join(out)


def write_bank(folder: Path, n: int, seed: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "questions.yaml"
    path.write_text(bank_yaml(n, seed), encoding="utf-8")
    return path
