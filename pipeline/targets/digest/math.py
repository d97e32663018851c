"""TeX formulas as readable Unicode text, for mail clients (and plain text) that run no MathJax.

Email cannot run scripts and images of formulas would need hosting, so ``$x^2 + \\alpha$``
becomes ``x² + α``: Greek letters, operators and arrows map to their characters, ``\\frac{a}{b}``
to ``a/b``, ``\\sqrt{x}`` to ``√x``, simple super- and subscripts to Unicode digits and
letters (else ``^(…)`` / ``_(…)``), ``\\text{…}``, ``\\mathbf{…}`` and the like to their
argument.

The rule: Unicode only for a formula converted *wholly*. :func:`tex_to_text` returns None
when any part of it is not: an unknown command (``\\otimes`` is known, ``\\overbrace`` is
not), an environment (``\\begin{…}``), a row break ``\\\\``, an alignment ``&``, a ``\\left``
/ ``\\right`` delimiter without a character, an accent over more than one symbol, unbalanced
braces, a missing argument. The writers then show the TeX source as code, so a reader gets
either the formula or its source, never a half-converted string (``beginbmatrix``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from string import ascii_lowercase, ascii_uppercase, digits

SYMBOLS = {
    # Greek
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "vartheta": "ϑ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Xi": "Ξ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    # operators and relations
    "cdot": "·",
    "times": "×",
    "div": "÷",
    "pm": "±",
    "mp": "∓",
    "ast": "∗",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "ne": "≠",
    "neq": "≠",
    "approx": "≈",
    "sim": "∼",
    "simeq": "≃",
    "equiv": "≡",
    "propto": "∝",
    "ll": "≪",
    "gg": "≫",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "Rightarrow": "⇒",
    "Leftarrow": "⇐",
    "leftrightarrow": "↔",
    "Leftrightarrow": "⇔",
    "iff": "⇔",
    "implies": "⇒",
    "mapsto": "↦",
    "infty": "∞",
    "sum": "∑",
    "prod": "∏",
    "int": "∫",
    "oint": "∮",
    "partial": "∂",
    "nabla": "∇",
    "in": "∈",
    "notin": "∉",
    "ni": "∋",
    "subset": "⊂",
    "subseteq": "⊆",
    "supset": "⊃",
    "supseteq": "⊇",
    "cup": "∪",
    "cap": "∩",
    "setminus": "∖",
    "forall": "∀",
    "exists": "∃",
    "neg": "¬",
    "lnot": "¬",
    "land": "∧",
    "wedge": "∧",
    "lor": "∨",
    "vee": "∨",
    "emptyset": "∅",
    "varnothing": "∅",
    "ldots": "…",
    "dots": "…",
    "cdots": "⋯",
    "vdots": "⋮",
    "ddots": "⋱",
    "mid": "|",
    "parallel": "‖",
    "perp": "⊥",
    "angle": "∠",
    "circ": "∘",
    "otimes": "⊗",
    "oplus": "⊕",
    "odot": "⊙",
    "top": "⊤",
    "bot": "⊥",
    "ell": "ℓ",
    "vert": "|",
    "Vert": "‖",
    "lvert": "|",
    "rvert": "|",
    "lVert": "‖",
    "rVert": "‖",
    "lbrace": "{",
    "rbrace": "}",
    "bullet": "•",
    "star": "⋆",
    "prime": "′",
    "degree": "°",
    "langle": "⟨",
    "rangle": "⟩",
    "lceil": "⌈",
    "rceil": "⌉",
    "lfloor": "⌊",
    "rfloor": "⌋",
    "|": "‖",
    "{": "{",
    "}": "}",
    "%": "%",
    "_": "_",
    "&": "&",
    "#": "#",
    "$": "$",
    # spacing and sizing commands that only matter to a typesetter
    ",": " ",
    ";": " ",
    ":": " ",
    "!": "",
    "quad": " ",
    "qquad": "  ",
    " ": " ",
    "displaystyle": "",
    "textstyle": "",
    "limits": "",
    "nolimits": "",
    # named functions stay words
    "log": "log",
    "ln": "ln",
    "exp": "exp",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "max": "max",
    "min": "min",
    "arg": "arg",
    "argmax": "argmax",
    "argmin": "argmin",
    "lim": "lim",
    "sup": "sup",
    "inf": "inf",
    "det": "det",
    "dim": "dim",
    "Pr": "Pr",
    "arcsin": "arcsin",
    "arccos": "arccos",
    "arctan": "arctan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "cot": "cot",
    "gcd": "gcd",
    "ker": "ker",
    "deg": "deg",
}
#: ``\\mathbb``: double-struck letters and digits (Mathematical Alphanumeric Symbols, whose
#: gaps are the older letterlike ℂ ℍ ℕ ℙ ℚ ℝ ℤ).
_DOUBLE_STRUCK_GAPS = {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ"}
BLACKBOARD = (
    {c: _DOUBLE_STRUCK_GAPS.get(c, chr(0x1D538 + n)) for n, c in enumerate(ascii_uppercase)}
    | {c: chr(0x1D552 + n) for n, c in enumerate(ascii_lowercase)}
    | {c: chr(0x1D7D8 + n) for n, c in enumerate(digits)}
)
ACCENTS = {
    "hat": "\u0302",
    "bar": "\u0304",
    "overline": "\u0305",
    "tilde": "\u0303",
    "vec": "\u20d7",
    "dot": "\u0307",
    "ddot": "\u0308",
    "widehat": "\u0302",
}
#: Accents whose mark joins up over several characters (a line over the whole argument).
SPANNING_ACCENTS = frozenset({"overline"})
SUPERSCRIPT = str.maketrans("0123456789+-=()nixyTt", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱˣʸᵀᵗ")
SUBSCRIPT = str.maketrans("0123456789+-=()aeijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP_CHARS = frozenset("0123456789+-=()nixyTt")
_SUB_CHARS = frozenset("0123456789+-=()aeijklmnoprstuvx")
#: Commands whose one argument is text to keep as it is.
TEXT_COMMANDS = frozenset(
    {
        "text",
        "textrm",
        "mathrm",
        "mathbf",
        "mathit",
        "mathsf",
        "mathtt",
        "operatorname",
        "boldsymbol",
        "bm",
        "textbf",
        "textit",
        "mbox",
    }
)
#: Commands that size the delimiter after them; the delimiter alone is kept.
SIZED_DELIMITERS = frozenset(
    {"left", "right", "middle"}
    | {f"{size}{side}" for size in ("big", "Big", "bigg", "Bigg") for side in ("", "l", "r", "m")}
)
#: Delimiters a sizing command may take: characters, and commands (by name) to their text.
DELIMITER_CHARS = {"(": "(", ")": ")", "[": "[", "]": "]", "|": "|", "/": "/", ".": ""}
DELIMITER_COMMANDS = frozenset(
    {"{", "}", "|", "langle", "rangle", "lceil", "rceil", "lfloor", "rfloor", "lbrace", "rbrace"}
    | {"vert", "Vert", "lvert", "rvert", "lVert", "rVert"}
)
#: Characters with a meaning in TeX that plain text cannot show: alignment, comment, parameter.
_UNCONVERTIBLE_CHARS = frozenset("&%#")

_TOKEN = re.compile(r"\\([A-Za-z]+|.)|([{}^_])|(\s+)|([^\\{}^_\s]+)", re.DOTALL)


class _Unconvertible(Exception):
    """Part of the formula has no faithful Unicode form: the whole formula stays TeX."""


@lru_cache(maxsize=4096)
def tex_to_text(tex: str) -> str | None:
    """Readable Unicode for a whole TeX formula, or None when any part of it cannot be
    converted (the caller shows the TeX source then). Cached: formulas repeat across outputs.
    """
    try:
        tokens = _tokens(tex)
        out, _ = _group(tokens, 0, stop_at_brace=False)
    except _Unconvertible:
        return None
    return re.sub(r"[ \t]{2,}", " ", out).strip()


Token = tuple[str, str, str, str]


def _tokens(tex: str) -> list[Token]:
    """The formula as (command, special, space, text) tokens; every character in one of them."""
    tokens: list[Token] = []
    end = 0
    for match in _TOKEN.finditer(tex):
        if match.start() != end:
            raise _Unconvertible  # a lone backslash at the end
        end = match.end()
        command, special, space, text = match.groups(default="")
        tokens.append((command, special, space, text))
    if end != len(tex):
        raise _Unconvertible
    return tokens


def _group(tokens: list[Token], i: int, *, stop_at_brace: bool) -> tuple[str, int]:
    """Convert tokens from ``i`` until the closing brace (or the end); return text, next index."""
    parts: list[str] = []
    while i < len(tokens):
        command, special, space, text = tokens[i]
        if special == "}":
            if stop_at_brace:
                return "".join(parts), i + 1
            raise _Unconvertible  # a closing brace without an opening one
        if special in ("^", "_"):
            arg, i = _argument(tokens, i + 1)
            parts.append(_script(arg, special))
            continue
        if special == "{":
            inner, i = _group(tokens, i + 1, stop_at_brace=True)
            parts.append(inner)
            continue
        i += 1
        if space:
            parts.append(" ")
        elif text:
            parts.append(_text(text))
        elif command:
            piece, i = _command(command, tokens, i)
            parts.append(piece)
    if stop_at_brace:
        raise _Unconvertible  # an opening brace never closed
    return "".join(parts), i


def _text(text: str) -> str:
    """A run of plain characters: kept, ``~`` (a non-breaking space) as a space."""
    if any(c in _UNCONVERTIBLE_CHARS for c in text):
        raise _Unconvertible
    return text.replace("~", " ")


def _argument(tokens: list[Token], i: int) -> tuple[str, int]:
    """One argument: a braced group, a command, or a single character."""
    i = _skip_spaces(tokens, i)
    if i >= len(tokens):
        raise _Unconvertible  # a command or script without its argument
    command, special, _, text = tokens[i]
    if special == "{":
        return _group(tokens, i + 1, stop_at_brace=True)
    if command:
        return _command(command, tokens, i + 1)
    if text:
        return _text(_first(tokens, i)), i + 1
    raise _Unconvertible  # "}", "^" or "_" where an argument belongs


def _skip_spaces(tokens: list[Token], i: int) -> int:
    while i < len(tokens) and tokens[i][2]:
        i += 1
    return i


def _first(tokens: list[Token], i: int) -> str:
    """The first character of the text token ``i``; the rest of the run stays for later (as
    a token at ``i + 1``: tokens are per call, so they may change)."""
    text = tokens[i][3]
    if len(text) > 1:
        tokens.insert(i + 1, ("", "", "", text[1:]))
    return text[0]


def _command(name: str, tokens: list[Token], i: int) -> tuple[str, int]:
    if name in ("frac", "dfrac", "tfrac"):
        top, i = _argument(tokens, i)
        bottom, i = _argument(tokens, i)
        # The space keeps "1/N ∑" from reading as "1/N∑" (the result is collapsed later).
        return f"{_wrap(top)}/{_wrap(bottom)} ", i
    if name == "sqrt":
        sign, i = _root_sign(tokens, i)
        arg, i = _argument(tokens, i)
        return f"{sign}{_wrap(arg)}", i
    if name in TEXT_COMMANDS:
        if name == "operatorname":
            i = _skip_star(tokens, _skip_spaces(tokens, i))
        return _argument(tokens, i)
    if name == "mathbb":
        arg, i = _argument(tokens, i)
        if not all(c in BLACKBOARD or c.isspace() for c in arg):
            raise _Unconvertible
        return "".join(BLACKBOARD.get(c, "") for c in arg), i
    if name in ACCENTS:
        arg, i = _argument(tokens, i)
        arg = arg.strip()
        if len(arg) == 1:
            return arg + ACCENTS[name], i
        if arg and name in SPANNING_ACCENTS:
            return "".join(c + ACCENTS[name] for c in arg), i
        raise _Unconvertible  # a hat over several characters has no Unicode form
    if name in SIZED_DELIMITERS:
        return _delimiter(tokens, i)
    if name in SYMBOLS:
        return SYMBOLS[name], i
    if name.isspace():  # a backslash before a line break or tab: a space
        return " ", i
    raise _Unconvertible  # an unknown command, \begin, \\ …


def _root_sign(tokens: list[Token], i: int) -> tuple[str, int]:
    """The root sign, with the degree of ``\\sqrt[n]{x}`` if there is one: ``√``, ``∛``, ``ⁿ√``."""
    i = _skip_spaces(tokens, i)
    if i >= len(tokens) or not tokens[i][3].startswith("["):
        return "√", i
    text = tokens[i][3]
    close = text.find("]")
    degree = text[1:close]
    if close < 0 or not degree or not all(c in _SUP_CHARS for c in degree):
        raise _Unconvertible  # a degree with commands or letters with no superscript form
    rest = text[close + 1 :]
    if rest:
        tokens[i] = ("", "", "", rest)
    else:
        i += 1
    return {"3": "∛", "4": "∜"}.get(degree, degree.translate(SUPERSCRIPT) + "√"), i


def _skip_star(tokens: list[Token], i: int) -> int:
    """Past the ``*`` of ``\\operatorname*`` (limits placement: nothing to show)."""
    if i < len(tokens) and tokens[i][3].startswith("*"):
        rest = tokens[i][3][1:]
        if rest:
            tokens[i] = ("", "", "", rest)
            return i
        return i + 1
    return i


def _delimiter(tokens: list[Token], i: int) -> tuple[str, int]:
    """The delimiter after ``\\left``, ``\\bigl`` …: its character (``.`` is none)."""
    i = _skip_spaces(tokens, i)
    if i >= len(tokens):
        raise _Unconvertible
    command, _, _, text = tokens[i]
    if command in DELIMITER_COMMANDS:
        return SYMBOLS[command], i + 1
    if text and text[0] in DELIMITER_CHARS:
        return DELIMITER_CHARS[_first(tokens, i)], i + 1
    raise _Unconvertible


def _wrap(text: str) -> str:
    """Parenthesise a fraction/root argument unless it is a single symbol or number."""
    text = text.strip()
    if re.fullmatch(r"[\w.′]+", text) or _parenthesised(text):
        return text
    return f"({text})"


def _parenthesised(text: str) -> bool:
    """Whether ``text`` is one parenthesised group: ``(a+b)``, not ``(a)+(b)``."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for n, c in enumerate(text):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0 and n < len(text) - 1:
            return False
    return depth == 0


def _script(arg: str, kind: str) -> str:
    arg = arg.strip()
    if not arg:  # x^{}: an empty script shows nothing
        return ""
    chars, table = (_SUP_CHARS, SUPERSCRIPT) if kind == "^" else (_SUB_CHARS, SUBSCRIPT)
    if arg and all(c in chars for c in arg):
        return arg.translate(table)
    if len(arg) <= 1:
        return f"{kind}{arg}"
    return f"{kind}({arg})"
