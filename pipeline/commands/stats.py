"""``pipeline stats``: how many questions the bank has per grade and per tag."""

from __future__ import annotations

from collections import Counter

from pipeline.source.model import GRADES, Bank


def stats_lines(bank: Bank) -> list[str]:
    """The report, a line each: the total, then grades in their order, then tags by count.

    Grades and tags form one table: names are padded to the longest of them and counts are
    right-aligned, so a long tag never pushes its count out of the column.
    """
    grades = Counter(g for q in bank.questions for g in q.grades)
    tags = Counter(t for q in bank.questions for t in q.tags)
    rows = [(grade, grades[grade]) for grade in GRADES]
    tag_rows = sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))
    name_width = max(len(name) for name, _ in rows + tag_rows)
    count_width = max(len(str(n)) for _, n in rows + tag_rows)

    def row(name: str, n: int) -> str:
        return f"  {name:<{name_width}}  {n:>{count_width}}"

    lines = [f"questions: {len(bank.questions)}", "grades:"]
    lines += [row(name, n) for name, n in rows]
    lines.append("tags:")
    lines += [row(name, n) for name, n in tag_rows]
    return lines
