"""TeX formulas as readable Unicode text, for mail clients (and plain text) that run no MathJax.

Email cannot run scripts and images of formulas would need hosting, so ``$x^2 + \\alpha$``
becomes ``x² + α``: Greek letters, operators and arrows map to their characters, ``\\frac{a}{b}``
to ``a/b``, ``\\sqrt{x}`` to ``√x``, simple super- and subscripts to Unicode digits and
letters (else ``^(…)`` / ``_(…)``). Unknown commands keep their name without the backslash, so
nothing is lost, only less pretty.
"""

from __future__ import annotations

import re
from functools import lru_cache

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
    "left": "",
    "right": "",
    "big": "",
    "Big": "",
    "bigg": "",
    "Bigg": "",
    "displaystyle": "",
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
}
BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼", "P": "ℙ"}
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

_TOKEN = re.compile(r"\\([A-Za-z]+|.)|([{}^_])|(\s+)|([^\\{}^_\s]+)")


@lru_cache(maxsize=4096)
def tex_to_text(tex: str) -> str:
    """Readable Unicode for a TeX formula (cached: formulas repeat across outputs)."""
    tokens = _TOKEN.findall(tex)
    out, _ = _group(tokens, 0, stop_at_brace=False)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


Token = tuple[str, str, str, str]


def _group(tokens: list[Token], i: int, *, stop_at_brace: bool) -> tuple[str, int]:
    """Convert tokens from ``i`` until the closing brace (or the end); return text, next index."""
    parts: list[str] = []
    while i < len(tokens):
        command, special, space, text = tokens[i]
        if special == "}":
            if stop_at_brace:
                return "".join(parts), i + 1
            i += 1
            continue
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
            parts.append(text)
        elif command:
            piece, i = _command(command, tokens, i)
            parts.append(piece)
    return "".join(parts), i


def _argument(tokens: list[Token], i: int) -> tuple[str, int]:
    """One argument: a braced group, a command, or a single character."""
    while i < len(tokens) and tokens[i][2]:
        i += 1
    if i >= len(tokens):
        return "", i
    command, special, _, text = tokens[i]
    if special == "{":
        return _group(tokens, i + 1, stop_at_brace=True)
    if command:
        return _command(command, tokens, i + 1)
    if text:
        # A bare argument is one character; the rest of the run continues after it.
        rest = text[1:]
        if rest:
            tokens[i] = ("", "", "", rest)
            return text[0], i
        return text, i + 1
    return "", i + 1


def _command(name: str, tokens: list[Token], i: int) -> tuple[str, int]:
    if name in ("frac", "dfrac", "tfrac"):
        top, i = _argument(tokens, i)
        bottom, i = _argument(tokens, i)
        # The space keeps "1/N ∑" from reading as "1/N∑" (the result is collapsed later).
        return f"{_wrap(top)}/{_wrap(bottom)} ", i
    if name == "sqrt":
        degree = ""
        if i < len(tokens) and tokens[i][3].startswith("["):
            degree = tokens[i][3][1:].rstrip("]")
            i += 1
        arg, i = _argument(tokens, i)
        root = {"": "√", "3": "∛", "4": "∜"}.get(degree, f"{degree.translate(SUPERSCRIPT)}√")
        return f"{root}{_wrap(arg)}", i
    if name in TEXT_COMMANDS:
        return _argument(tokens, i)
    if name == "mathbb":
        arg, i = _argument(tokens, i)
        return "".join(BLACKBOARD.get(c, c) for c in arg), i
    if name in ACCENTS:
        arg, i = _argument(tokens, i)
        return (arg + ACCENTS[name]) if len(arg) == 1 else f"{name}({arg})", i
    return SYMBOLS.get(name, name), i


def _wrap(text: str) -> str:
    """Parenthesise a fraction/root argument unless it is a single symbol or number."""
    text = text.strip()
    if re.fullmatch(r"[\w.′]+|\(.*\)", text):
        return text
    return f"({text})"


def _script(arg: str, kind: str) -> str:
    arg = arg.strip()
    chars, table = (_SUP_CHARS, SUPERSCRIPT) if kind == "^" else (_SUB_CHARS, SUBSCRIPT)
    if arg and all(c in chars for c in arg):
        return arg.translate(table)
    if len(arg) <= 1:
        return f"{kind}{arg}"
    return f"{kind}({arg})"
