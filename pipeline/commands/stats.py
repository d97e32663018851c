"""``pipeline stats``: how many questions the bank has per grade and per tag."""

from __future__ import annotations

from collections import Counter

from pipeline.source.model import GRADES, Bank


def stats_lines(bank: Bank) -> list[str]:
    """The report, a line each: the total, then grades in their order, then tags by count."""
    grades = Counter(g for q in bank.questions for g in q.grades)
    tags = Counter(t for q in bank.questions for t in q.tags)
    lines = [f"questions: {len(bank.questions)}", "grades:"]
    lines += [f"  {grade:<8} {grades[grade]:>5}" for grade in GRADES]
    lines.append("tags:")
    lines += [
        f"  {tag:<24} {n:>5}" for tag, n in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return lines
