"""The reference point: the build anyone would write in an afternoon (see issue "Speed").

PyYAML's default ``safe_load``, Python-Markdown once per answer, genanki for the deck, Jinja
for one file per post and one digest. It validates nothing and is deliberately plain; the
benchmark runs it beside the real pipeline on the same bank.

Usage: python bench/naive.py SOURCE OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import genanki
import jinja2
import markdown
import yaml

POST = jinja2.Template(
    "<b>{{ q.question }}</b>\n\n{{ html }}\n\n{% for g in q.grades %}#{{ g }}\n{% endfor %}"
)
DIGEST = jinja2.Template(
    "<html><body>{% for q, html in items %}<h2>{{ q.question }}</h2>"
    "{{ html }}{% endfor %}</body></html>"
)


def main(source: Path, out: Path) -> None:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    md = markdown.Markdown(extensions=["tables", "fenced_code"])
    model = genanki.Model(
        1607392319,
        "Q/A",
        fields=[{"name": "Q"}, {"name": "A"}],
        templates=[{"name": "Card", "qfmt": "{{Q}}", "afmt": "{{FrontSide}}<hr>{{A}}"}],
    )
    deck = genanki.Deck(2059400110, "Interview")
    (out / "telegram").mkdir(parents=True, exist_ok=True)
    items = []
    for n, q in enumerate(data["questions"]):
        html = md.reset().convert(q["answer"])
        deck.add_note(
            genanki.Note(
                model=model,
                fields=[q["question"], html],
                tags=list(q["grades"]),
                guid=genanki.guid_for(q["id"]),
            )
        )
        (out / "telegram" / f"{n:05d}-{q['id']}.html").write_text(
            POST.render(q=q, html=html), encoding="utf-8"
        )
        items.append((q, html))
    genanki.Package(deck).write_to_file(str(out / "deck.apkg"))
    (out / "digest.html").write_text(DIGEST.render(items=items), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
