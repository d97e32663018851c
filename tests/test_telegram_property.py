"""Property: any Markdown answer becomes posts that TDLib accepts, within Telegram's limits,
whose Markdown twin shows the same text and formatting."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import markup
from pipeline.render import telegram_text as tt
from tests.tdlib import check_post

#: Pieces a new user's answers are made of, including everything the apps' Markdown and
#: Telegram's HTML parser are touchy about.
WORDS = st.sampled_from(
    [
        "слово",
        "word",
        "__init__",
        "snake_case__x",
        "a__b__c",
        "**",
        "__",
        "~~",
        "||",
        "*",
        "_",
        "`",
        "```",
        "<",
        ">",
        "&",
        "&amp;",
        "&lt;",
        "a<b",
        "x&&y",
        '"quoted"',
        "'s",
        "#tag",
        "@user",
        "/start",
        "$USD",
        "1234567890123",
        "🇷🇺",
        "🇺🇦",
        "👨‍👩‍👧‍👦",
        "👍🏽",
        "🏳️‍🌈",
        "é",
        "\u200b",
        "\u00a0",
        "\\",
        "\\*",
        "[x](y)",
        "](",
        "[a]",
        "(b)",
        "{{ x }}",
        "{% raw %}",
        "***",
        "2*3",
        "e=mc^2",
        "https://example.com/a__b",
        "...",
        "—",
        "ок.",
        "end!",
        "?",
    ]
)
INLINE = st.one_of(
    WORDS,
    WORDS.map(lambda w: f"**{w}**"),
    WORDS.map(lambda w: f"*{w}*"),
    WORDS.map(lambda w: f"_{w}_"),
    WORDS.map(lambda w: f"`{w}`"),
    WORDS.map(lambda w: f"[{w}](https://example.com/{len(w)})"),
    WORDS.map(lambda w: f"<b>{w}</b>"),
    WORDS.map(lambda w: f"<u>{w}</u>"),
    WORDS.map(lambda w: f"<s>{w}</s>"),
    WORDS.map(lambda w: f"<span>{w}</span>"),
    WORDS.map(lambda w: f"${w}$"),
    st.just("<br>"),
    st.just("<script>alert(1)</script>"),
    st.just('<a href="javascript:alert(1)">x</a>'),
    st.just('<img src="x.png" alt="alt">'),
)
LINE = st.lists(INLINE, min_size=1, max_size=12).map(" ".join)
CODE = st.lists(
    st.sampled_from(
        [
            "x = 1",
            "if a < b and c > d:",
            "    return a & b",
            "__init__(self)",
            "``` nested",
            "`tick`",
            "",
            "# комментарий",
            "\tтаб",
        ]
    ),
    min_size=1,
    max_size=6,
).map("\n".join)
BLOCK = st.one_of(
    LINE,
    LINE.map(lambda t: f"## {t}"),
    LINE.map(lambda t: f"> {t}"),
    st.lists(LINE, min_size=1, max_size=4).map(lambda items: "\n".join(f"- {i}" for i in items)),
    st.lists(LINE, min_size=1, max_size=4).map(
        lambda items: "\n".join(f"{n}. {i}" for n, i in enumerate(items, 1))
    ),
    st.lists(LINE, min_size=1, max_size=3).map(
        lambda items: "- top\n" + "\n".join(f"    - {i}" for i in items)
    ),
    st.tuples(st.sampled_from(["python", "", "c++", "пайтон", "sql"]), CODE).map(
        lambda lc: f"```{lc[0]}\n{lc[1]}\n```"
    ),
    CODE.map(lambda c: "\n".join("    " + line for line in c.split("\n"))),
    st.lists(st.lists(WORDS, min_size=2, max_size=2), min_size=1, max_size=3).map(
        lambda rows: "| a | b |\n|---|--:|\n" + "\n".join(f"| {r[0]} | {r[1]} |" for r in rows)
    ),
    st.just("<div><p>raw <i>html</i></p><ul><li>one</li><li>two</li></ul></div>"),
    st.just("$$\n\\frac{a}{b}\n$$"),
    st.just("---"),
)
ANSWER = st.lists(BLOCK, min_size=1, max_size=8).map("\n\n".join)


def posts_for(answer: str, repeat: int) -> list[tt.Written]:
    """The posts of ``answer`` said ``repeat`` times (fewer if that is over a field's limit)."""
    repeat = max(1, min(repeat, (markup.MAX_FIELD_CHARS + 2) // (len(answer) + 2)))
    spans = tt.make_safe(tt.answer_spans(markup.parse_markdown("\n\n".join([answer] * repeat))))
    return [tt.write(part) for part in tt.split_post(spans)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANSWER)
def test_any_answer_is_accepted_by_tdlib_and_twin_matches(answer: str) -> None:
    for post in posts_for(answer, 1):
        assert post.length <= tt.TEXT_LIMIT and post.entities <= tt.ENTITY_LIMIT
        assert check_post(post.html, post.markdown, url_for_text=tt.url_for_text) == [], (
            answer,
            post.html,
            post.markdown,
        )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANSWER)
def test_long_answers_split_into_valid_posts(answer: str) -> None:
    posts = posts_for(answer, 60)
    for post in posts:
        assert check_post(post.html, post.markdown, url_for_text=tt.url_for_text) == [], (
            answer,
            post.html,
            post.markdown,
        )
