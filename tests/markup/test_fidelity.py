"""What a reader must see of the source, and what each output shows: pipeline.markup.fidelity.

Hand-written HTML and text stand in for the outputs, so these tests pin the rules of the check
itself, independent of the renderers (the build's tests run it on their real output).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from pipeline.markup.fidelity import (
    html_images,
    html_list_items,
    html_words,
    missing_words,
    source_images,
    source_list_items,
    source_words,
    text_list_items,
    text_words,
    tokens,
    word_list,
)

# --- the tokeniser ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("__init__", ["init"]),
        ("ROC-AUC", ["roc", "auc"]),
        ("f(x)=x^2", ["f", "x", "x", "2"]),
        ("ёлка Ёлка ЁЛКА", ["ёлка", "ёлка", "ёлка"]),
        ("p = 0.5", ["p", "0", "5"]),
        ("don't", ["don", "t"]),
        ("snake_case", ["snake", "case"]),
        ("моде́ль", ["модель"]),  # a stress mark joins
        ("ROC\u00adAUC", ["rocauc"]),  # a soft hyphen is invisible
        ("ﬁt", ["fit"]),  # NFKC
        ("Straße", ["strasse"]),  # casefold
        ("2\\cdot3", ["2", "cdot", "3"]),  # a TeX command is a word of its own
        ("—  … «»", []),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


@pytest.mark.parametrize(
    "word", ["__init__", "ROC-AUC", "f(x)=x^2", "ёлка", "Ёлка", "0.5", "don't", "моде́ль"]
)
def test_the_tokeniser_is_the_same_on_every_side(word: str) -> None:
    expected = Counter(tokens(word))
    assert expected
    assert source_words(word) == expected
    assert source_words(f"`{word}`") == expected  # as code
    assert source_words(f"```\n{word}\n```") == expected
    assert html_words(f"<p>{word}</p>") == expected
    assert html_words(f"<pre><code>{word}</code></pre>") == expected
    assert text_words(f"• {word}") == expected


# --- the source's words -------------------------------------------------------------------------

SOURCE_CASES = [
    (
        "plain Russian",
        "Градиентный бустинг — ансамбль деревьев.",
        ["градиентный", "бустинг", "ансамбль", "деревьев"],
    ),
    (
        "emphasis markers are not words, paired ones join",
        "**Важно:** *всегда* ***масштабируйте*** признаки; **Ro**bert",
        ["важно", "всегда", "масштабируйте", "признаки", "robert"],
    ),
    (
        "link text stays, destination and title go",
        'См. [документацию](https://scikit-learn.org/stable/a_(b).html "Scikit title") тут.',
        ["см", "документацию", "тут"],
    ),
    (
        "autolinks and bare URLs go whole",
        "Статья <https://arxiv.org/abs/1706.03762> и https://example.com/a?b=c, www.site.org конец",
        ["статья", "и", "конец"],
    ),
    (
        "reference links and their definitions",
        'Читайте [книгу][esl] и [ещё одну][].\n\n[esl]: https://hastie.su/ElemStatLearn "ESL"\n'
        "[ещё одну]: <https://example.com/x y>",
        ["читайте", "книгу", "и", "ещё", "одну"],
    ),
    (
        "HTML tags and attributes go, the text between stays",
        '<details><summary>Ответ</summary>\n\nСкрытый <b class="x">текст</b>\n\n</details>',
        ["ответ", "скрытый", "текст"],
    ),
    (
        "an HTML image contributes nothing, not even its alt",
        'До <img src="img/roc.png" width="300" alt="ROC кривая" title="Рис"> после',
        ["до", "после"],
    ),
    (
        "a Markdown image contributes nothing either",
        'До ![ROC кривая](img/roc.png "Рис. 1") после',
        ["до", "после"],
    ),
    (
        "comments, also over blank lines, and script/style",
        "Да <!-- черновик --> нет\n\n<!--\nстарый\n\nтекст\n-->\nконец"
        "<script>var x = 1;</script><style>p { color: red }</style>",
        ["да", "нет", "конец"],
    ),
    (
        "entities are decoded, never words themselves",
        "a&nbsp;b &#8212; c &amp; d caf&eacute; &lt;tag&gt;",
        ["a", "b", "c", "d", "café", "tag"],
    ),
    (
        "the info string of a fence is not a word, its body is",
        "Код:\n\n```python\ndef __init__(self): ...\n```\n\n~~~ sql\nSELECT 1\n~~~",
        ["код", "def", "init", "self", "select", "1"],
    ),
    (
        "markup inside code is code",
        "`<b>жирный</b>` и `[x](http://y)` и `$z$` и `&amp;`\n\n"
        "```md\n- пункт\n![alt](img.png)\n<!-- c -->\n```",
        [
            *["b", "жирный", "b", "и", "x", "http", "y", "и", "z", "и", "amp"],
            *["пункт", "alt", "img", "png", "c"],
        ],
    ),
    (
        "indented code, and a fence shown inside it",
        "Пример:\n\n    ```python\n    x = [1](2)\n    ```\n\nдальше",
        ["пример", "python", "x", "1", "2", "дальше"],
    ),
    (
        "footnote labels go, the footnote text stays",
        "Факт[^1] и ещё[^note].\n\n[^1]: Источник один.\n[^note]: Источник два.",
        ["факт", "и", "ещё", "источник", "один", "источник", "два"],
    ),
    (
        "task boxes and list markers go",
        "- [x] сделано\n- [ ] не сделано\n1. первый\n2) второй\n* [X] звёздочка",
        ["сделано", "не", "сделано", "первый", "второй", "звёздочка"],
    ),
    (
        "tables: pipes and dashes are not words",
        "| Метрика | Значение |\n|:---|---:|\n| F1 | 0.8 |",
        ["метрика", "значение", "f1", "0", "8"],
    ),
    (
        "escapes",
        r"\*не курсив\* и \$5 \_x\_ \`y\`",
        ["не", "курсив", "и", "5", "x", "y"],
    ),
    (
        "a fence in a quote ends with the quote",
        "> ```\n> код\nленивый <b>x</b>",
        ["код", "ленивый", "x"],
    ),
    (
        "code spans do not run across list items",
        "- a `<b>\n- c` d",
        ["a", "c", "d"],
    ),
    (
        "GitHub's $`…`$ goes before code spans",
        "`<i> $`x`$ </i>`",
        ["x"],
    ),
    (
        "a dollar amount is not math",
        "цена $5 и $10",
        ["цена", "5", "и", "10"],
    ),
]


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [pytest.param(md, words, id=name) for name, md, words in SOURCE_CASES],
)
def test_source_words(markdown: str, expected: list[str]) -> None:
    assert word_list(markdown) == expected
    assert source_words(markdown) == Counter(expected)


MATH = (
    "Формула $\\frac{a}{b}$, блок $$\\sum_{i=1}^{n} x_i$$, гитхаб $`\\sqrt{y}`$,\n"
    "скобки \\(\\alpha + k\\) и \\[\\text{итог} = z\\].\n\n"
    "```math\n\\begin{pmatrix} p & q \\end{pmatrix}\n```\n\nконец"
)


def test_math_in_six_syntaxes() -> None:
    assert word_list(MATH) == [
        *["формула", "a", "b", "блок", "i", "1", "n", "x", "i", "гитхаб", "y"],
        *["скобки", "k", "и", "итог", "z", "p", "q", "конец"],
    ]
    # the digest renders formulas its own way: without math, only the prose must be there
    assert word_list(MATH, math=False) == ["формула", "блок", "гитхаб", "скобки", "и", "конец"]


def test_code_glued_to_text_reads_as_one_word_as_in_html() -> None:
    assert word_list("a`b`c") == ["abc"]
    assert html_words("<p>a<code>b</code>c</p>") == Counter(["abc"])
    assert word_list("pre[text](https://x.org)post") == ["pretextpost"]


# --- list items ---------------------------------------------------------------------------------

LIST_CASES = [
    ("bullets", "- a\n- b\n- c", 3),
    ("all markers", "- a\n* b\n+ c\n1. d\n2) e", 5),
    ("tasks", "- [ ] a\n- [x] b", 2),
    ("nested by two spaces", "- a\n  - b\n    - c\n- d", 4),
    ("nested by four spaces", "1. a\n    - b\n2. c", 3),
    ("right after a text line", "Шаги:\n1. первый\n2. второй", 2),
    ("in a quote", "> Цитата:\n> - x\n> - y", 2),
    ("not in a fence", "```\n- a\n- b\n```\n\n- c", 1),
    ("not in a ~~~ fence inside a list item", "- a\n\n  ~~~\n  - b\n  ~~~", 1),
    ("not in indented code", "Текст\n\n    - a\n    - b", 0),
    ("not a rule", "---\n* * *\n- - -", 0),
    ("a number other than 1 after text continues it", "Год:\n2019. был\n    - нет", 0),
    ("not emphasis or numbers", "*курсив* и\n**жирный**\n1.5 раза\n-1 балл", 0),
    ("not in a comment", "<!--\n- a\n-->\n- b", 1),
]


@pytest.mark.parametrize(
    ("markdown", "count"), [pytest.param(md, n, id=name) for name, md, n in LIST_CASES]
)
def test_source_list_items(markdown: str, count: int) -> None:
    assert source_list_items(markdown) == count


def test_output_list_items() -> None:
    assert html_list_items("<ul><li>a</li><li class='x'>b<ol><li>c</li></ol></li></ul>") == 3
    assert html_list_items("<link rel='x'><p>&lt;li&gt;</p><!-- <li> -->") == 0
    text = "• a\n    • b\n1. c\n2) d\n- e\n* f\n☐ g\n☑ h\n> • i\n•no space\nобычная строка"
    assert text_list_items(text) == 9


# --- images -------------------------------------------------------------------------------------


def test_source_images_in_order_outside_code() -> None:
    markdown = (
        '![схема](img/a.png "Схема") текст <img width="300" src="img/b.png" alt="b">\n\n'
        "![ref][pic] и ![pic]\n\n"
        "`![not](code.png)` <code>ok</code>\n\n"
        '```html\n<img src="in-fence.png">\n```\n\n'
        "[pic]: img/c.png\n\n"
        "![нет такой ссылки][missing] ![](<img/d e.png>)"
    )
    assert source_images(markdown) == [
        "img/a.png",
        "img/b.png",
        "img/c.png",
        "img/c.png",
        "img/d e.png",
    ]


def test_html_images() -> None:
    fragment = '<p><img src="media/a.png" alt="x"><IMG SRC=\'b.png\'><img alt="no src"></p>'
    assert html_images(fragment) == ["media/a.png", "b.png"]
    assert html_images('<img src="a.png?x=1&amp;y=2">') == ["a.png?x=1&y=2"]


# --- what an output shows -----------------------------------------------------------------------


def test_html_words() -> None:
    fragment = (
        "<p>Ро<b>берт</b> &amp; caf&eacute;&nbsp;бар</p><p>второй</p>"
        '<img src="x.png" alt="картинка"><script>var s;</script><style>p{}</style>'
        "<details><summary>Ответ</summary>скрыт</details>"
    )
    assert html_words(fragment) == Counter(["роберт", "café", "бар", "второй", "ответ", "скрыт"])


def test_mathjax_reads_as_the_source_math_does_but_not_inside_code() -> None:
    card = "<p>\\(\\frac{a}{b}\\) и \\[\\sum x\\]</p><pre><code>re = r'\\(\\d+\\)'</code></pre>"
    assert html_words(card) == Counter(["a", "b", "и", "x", "re", "r", "d"])
    markdown = "$\\frac{a}{b}$ и $$\\sum x$$\n\n```\nre = r'\\(\\d+\\)'\n```"
    assert source_words(markdown) == html_words(card)


# --- the whole check: what was lost -------------------------------------------------------------

ANSWER = (
    "**Bias** — систематическая ошибка модели. Формула: $E[\\hat f] - f$.\n\n"
    "Высокий bias означает недообучение. Модель слишком простая для данных.\n\n"
    "- линейная регрессия на нелинейных данных\n"
    "- дерево глубины 1\n"
    "- kNN с огромным k\n"
)
CARD = (
    "<p><strong>Bias</strong> — систематическая ошибка модели. Формула: \\(E[\\hat f] - f\\).</p>"
    "<p>Высокий bias означает недообучение. Модель слишком простая для данных.</p>"
    "<ul><li>линейная регрессия на нелинейных данных</li><li>дерево глубины 1</li>"
    "<li>kNN с огромным k</li></ul>"
)


def test_nothing_lost() -> None:
    assert missing_words(source_words(ANSWER), html_words(CARD), word_list(ANSWER)) == []
    assert source_list_items(ANSWER) == html_list_items(CARD) == 3


def test_a_dropped_sentence_is_named_in_source_order() -> None:
    dropped = CARD.replace(" Модель слишком простая для данных.", "")
    lost = missing_words(source_words(ANSWER), html_words(dropped), word_list(ANSWER))
    # "модели" and "данных" appear elsewhere too: the occurrences reported are the dropped ones
    assert lost == ["модель", "слишком", "простая", "для", "данных"]
    assert missing_words(source_words(ANSWER), html_words(dropped), word_list(ANSWER), limit=2) == [
        "модель",
        "слишком",
    ]


def test_a_dropped_repeated_word_is_found_by_count() -> None:
    source = source_words("да да да")
    assert missing_words(source, text_words("да да")) == ["да"]
    assert missing_words(source, text_words("да да да да")) == []


def test_a_dropped_list_item_and_math() -> None:
    two = CARD.replace("<li>дерево глубины 1</li>", "").replace("\\(E[\\hat f] - f\\)", "")
    assert html_list_items(two) == 2 < source_list_items(ANSWER)
    lost = missing_words(source_words(ANSWER), html_words(two), word_list(ANSWER))
    assert lost == ["e", "f", "f", "дерево", "глубины", "1"]
    # the digest compares without math: only the list item is missing there
    plain = missing_words(
        source_words(ANSWER, math=False), html_words(two), word_list(ANSWER, math=False)
    )
    assert plain == ["дерево", "глубины", "1"]


def test_text_twin() -> None:
    text = (
        "Bias — систематическая ошибка модели. Формула: E[\\hat f] - f.\n\n"
        "Высокий bias означает недообучение. Модель слишком простая для данных.\n\n"
        "• линейная регрессия на нелинейных данных\n• дерево глубины 1\n• kNN с огромным k"
    )
    assert missing_words(source_words(ANSWER), text_words(text)) == []
    assert text_list_items(text) == 3
    assert missing_words(source_words(ANSWER), text_words(text.replace("kNN ", ""))) == ["knn"]


def test_images_lost() -> None:
    markdown = "![a](a.png)\n\n<img src='b.png' width=200>"
    assert len(source_images(markdown)) == 2
    assert len(html_images('<p><img src="media/a.png" alt="a"></p><p>b.png</p>')) == 1


# --- speed --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    ["<!--" * 5000, "\\(" * 5000, "\\[a" * 5000, "[a" * 5000, "`a" * 5000, "> " * 5000 + "- a"],
)
def test_hostile_sources_stay_linear(hostile: str) -> None:
    start = time.perf_counter()
    source_words(hostile + "!")  # "!": a text not cached by another case
    source_list_items(hostile + "!")
    source_images(hostile + "!")
    assert time.perf_counter() - start < 1.0
