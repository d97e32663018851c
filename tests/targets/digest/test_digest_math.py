"""TeX to Unicode for the digest: a formula is converted wholly or shown as its TeX source.

Never a half-converted string such as ``a otimes b = beginbmatrix 3 \\ 2 \\ 1 endbmatrix``.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.targets.digest.math import SYMBOLS, TEXT_COMMANDS, tex_to_text
from tests.support.digest import bank_yaml, errors_of, files_of, render_digest
from tests.support.examples import examples

#: Formulas converted wholly, with their Unicode.
CONVERTED = [
    (r"\sigma(z) = \frac{1}{1 + e^{-z}}", "σ(z) = 1/(1 + e^(-z))"),
    (r"\sum_{i=1}^{n} x_i^2", "∑ᵢ₌₁ⁿ xᵢ²"),
    (r"\frac{1}{n}\sum_{i=1}^{n} (y_i - \hat{y}_i)^2", "1/n ∑ᵢ₌₁ⁿ (yᵢ - y\u0302ᵢ)²"),
    (r"\mathbb{E}[X] = \int x p(x) dx", "𝔼[X] = ∫ x p(x) dx"),
    (r"x^2 + \alpha", "x² + α"),
    (r"\sqrt{x}", "√x"),
    (r"\sqrt[3]{x}", "∛x"),
    (r"\sqrt[n]{a+b}", "ⁿ√(a+b)"),
    (r"\left( \frac{a}{b} \right)", "( a/b )"),
    (r"\left. \frac{df}{dx} \right|_{x=0}", "df/dx |ₓ₌₀"),
    (r"\bigl( x \bigr)", "( x )"),
    (r"\text{loss} = -\log p", "loss = -log p"),
    (r"\mathbf{w}^T \mathbf{x} + b", "wᵀ x + b"),
    (r"\operatorname*{argmax}_\theta L", "argmax_θ L"),
    (r"\hat{\theta}", "θ\u0302"),
    (r"\overline{AB}", "A\u0305B\u0305"),
    (r"\mathbb{R}^n", "ℝⁿ"),
    (r"\mathbb{1}_{x>0}", "𝟙_(x>0)"),
    (r"a \otimes b", "a ⊗ b"),
    (r"A^\top", "A^⊤"),
    (r"\|x\|_2", "‖x‖₂"),
    (r"\{1, 2\}", "{1, 2}"),
    (r"\langle x, y \rangle", "⟨ x, y ⟩"),
    (r"a~b", "a b"),
    (r"50\%", "50%"),
    (r"x^{}", "x"),
    (r"e^{i\pi} + 1 = 0", "e^(iπ) + 1 = 0"),
    (r"\nabla_\theta J(\theta)", "∇_θ J(θ)"),
    (r"\lim_{n \to \infty} (1 + 1/n)^n", "lim_(n → ∞) (1 + 1/n)ⁿ"),
    (r"O(n \log n)", "O(n log n)"),
    (r"A^{-1}", "A⁻¹"),
    (r"\frac{(a)+(b)}{2}", "((a)+(b))/2"),
    (r"\frac{(a+b)}{2}", "(a+b)/2"),
    (r"P(A \mid B)", "P(A | B)"),
]

#: Formulas with a part that has no faithful Unicode form: they stay TeX.
FALLBACK = [
    r"a \otimes b = \begin{bmatrix} 3 \\ 2 \\ 1 \end{bmatrix}",  # environment, row breaks
    r"f(x) = \begin{cases} 1 & x > 0 \\ 0 & \text{otherwise} \end{cases}",
    r"\overbrace{a + b}^{n}",  # unknown command
    r"\mathcal{L}(\theta)",  # \mathcal is not mapped
    r"\foo + 1",
    r"x \\ y",  # a row break alone
    r"a & b",  # an alignment alone
    r"\hat{xy}",  # an accent over two characters
    r"\sqrt[k]{x}",  # a degree with no superscript form
    r"\sqrt[\alpha]{x}",
    r"\left< x \right>",  # a delimiter that is not mapped
    r"{a + b",  # unbalanced braces
    r"a + b}",
    r"x^",  # a script without its argument
    r"\frac{1}",  # a fraction without its denominator
    "a\\",  # a lone backslash
    r"\mathbb{R_+}",  # no double-struck "_"
    r"x = 1 % a comment",
]


@pytest.mark.parametrize(("tex", "expected"), CONVERTED)
def test_converted_wholly(tex: str, expected: str) -> None:
    assert tex_to_text(tex) == expected


@pytest.mark.parametrize("tex", FALLBACK)
def test_falls_back_to_tex(tex: str) -> None:
    assert tex_to_text(tex) is None


def _commands(tex: str) -> set[str]:
    return set(re.findall(r"\\([A-Za-z]+)", tex))


def _half_converted(tex: str, out: str) -> set[str]:
    """Names of ``tex``'s commands left in ``out`` as bare words (``otimes``, ``beginbmatrix``):
    not the ones that stand for themselves (``\\log``) and not words the formula also has as
    text (``\\text{max}``)."""
    words_in_text = set(re.findall(r"[A-Za-z]+", re.sub(r"\\[A-Za-z]+", " ", tex)))
    found = set()
    for name in _commands(tex):
        if SYMBOLS.get(name) == name or name in words_in_text:
            continue
        if re.search(rf"[A-Za-z]*{name}[A-Za-z]*", out):
            found.add(name)
    return found


@pytest.mark.parametrize("tex", [tex for tex, _ in CONVERTED] + FALLBACK)
def test_never_half_converted(tex: str) -> None:
    out = tex_to_text(tex)
    assert out is None or not _half_converted(tex, out), out


#: Pieces of formulas: known and unknown commands, environments, scripts, braces, text.
PIECES = st.sampled_from(
    [
        "x",
        "ab",
        "12",
        " ",
        "+",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "^",
        "_",
        "&",
        "~",
        ".",
        "|",
        "*",
        r"\alpha",
        r"\otimes",
        r"\log",
        r"\frac",
        r"\sqrt",
        r"\text",
        r"\mathbf",
        r"\mathbb",
        r"\operatorname",
        r"\hat",
        r"\overline",
        r"\left",
        r"\right",
        r"\bigl",
        r"\{",
        r"\\",
        r"\,",
        r"\begin{pmatrix}",
        r"\end{pmatrix}",
        r"\overbrace",
        r"\mathcal",
        r"\foo",
        r"\textcolor",
        "\\",
    ]
)


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(PIECES, max_size=12).map("".join))
def test_any_formula_is_whole_or_none(tex: str) -> None:
    out = tex_to_text(tex)
    if out is None:
        return
    assert not _half_converted(tex, out), out
    assert "\\" not in out  # no command is left over


def test_text_commands_keep_their_argument() -> None:
    for name in sorted(TEXT_COMMANDS - {"operatorname"}):
        assert tex_to_text(rf"\{name}{{abc}} + 1") == "abc + 1", name


# --- in the digest -------------------------------------------------------------------------------

MATRIX = r"a \otimes b = \begin{bmatrix} 3 \\ 2 \\ 1 \end{bmatrix}"
CASES = r"|x| = \begin{cases} x & x \ge 0 \\ -x & x < 0 \end{cases}"


def _week(write_source: Callable[[str], Path], answer: str) -> tuple[str, str]:
    rendered = render_digest(write_source(bank_yaml(answer)))
    assert not errors_of(rendered), errors_of(rendered)
    files = files_of(rendered)
    return files["digest/2026-W49.html"].decode(), files["digest/2026-W49.txt"].decode()


def test_digest_shows_tex_source_when_not_converted(
    write_source: Callable[[str], Path],
) -> None:
    html, text = _week(
        write_source,
        f"Вектор ${MATRIX}$ и сигмоида $\\sigma(z)$.\n\nВыбор:\n\n$${CASES}$$\n\nКонец.",
    )
    body = html.split("<body", 1)[1]
    # HTML: the source in <code> (its styles inlined), escaped; converted formulas as before.
    code = re.findall(r"<code\b[^>]*>(.*?)</code>", body, re.S)
    assert [html_lib.unescape(c) for c in code] == [MATRIX, CASES]
    assert all("font-family" in tag for tag in re.findall(r"<code\b[^>]*>", body))
    assert "&amp; x \\ge 0" in body  # the alignment "&" is escaped, not markup
    assert "σ(z)" in body
    # The text part: the source as written, like inline code; display math on its own line.
    assert MATRIX in " ".join(text.split()) and "σ(z)" in text  # (wrapped like inline code)
    assert f"\n{CASES}\n" in text
    for output in (body, text):
        for half in ("beginbmatrix", "endbmatrix", "begincases"):
            assert half not in output, half
        for name in ("otimes", "begin", "end", "ge"):  # each command keeps its backslash
            assert not re.search(rf"(?<![\\A-Za-z]){name}(?![A-Za-z])", output), name
