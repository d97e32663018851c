"""The digest in a real browser (headless Chromium): no horizontal overflow at 600 and 375 px,
light and dark, and with every <style> removed (how the Gmail app shows mail from non-Google
accounts). Screenshots land in /tmp/digest-screenshots for a human to look at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import browser
from tests.support.banks import SEED
from tests.support.digest import HEAD, check_email_html, files_of, render_digest

SHOTS = Path("/tmp/digest-screenshots")

#: Appended to a copy of the page: reports elements that stick out of the viewport.
PROBE = """<script>
window.addEventListener('load', function () {
  var root = document.documentElement, width = root.clientWidth, wide = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1 && wide.length < 5) {
      wide.push(el.tagName.toLowerCase() + '.' + (el.className || '') + ' right=' + box.right);
    }
  });
  parent.postMessage(JSON.stringify({scroll: root.scrollWidth, client: width, wide: wide}),
                     '*');
});
</script>"""

#: Headless Chromium will not make a window narrower than 500 px, so the page is measured in
#: an iframe of the exact width (media queries see the iframe's width, as on a phone).
FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:1200px;border:0"></iframe>
<pre id="probe"></pre>
<script>window.addEventListener('message', function (e) {{
  document.getElementById('probe').textContent = e.data; }});</script>
</body></html>"""

STRESS_ANSWERS = [
    # raw HTML, a wide raw table, a huge image, emoji
    'Сырой HTML: <b>жирный</b>, <span style="color:red">цвет</span>, '
    '<img src="https://example.org/huge.png" width="2400" height="1200" alt="Огромная картинка">'
    "\n\n<table><tr>"
    + "".join(f"<td>колонка{i}_безпробелов_длинная</td>" for i in range(8))
    + "</tr></table>\n\nЭмодзи: 🚀🔥👩‍💻🇷🇺 и ещё 🤖.",
    # long code lines, tabs, nested code in a list
    "Код:\n\n```python\ndef f():\n\treturn "
    + "x_" * 120
    + "\nurl = '"
    + "a" * 200
    + "'\n```\n\n1. Шаг с кодом:\n\n    ```bash\n    curl https://example.org/"
    + "p" * 150
    + "\n    ```\n\n2. Готово.",
    # a wide Markdown table, a long URL, a quote, formulas
    "| "
    + " | ".join(f"Столбец{i}" for i in range(7))
    + " |\n|"
    + "---|" * 7
    + "\n| "
    + " | ".join("значение_" * 3 for _ in range(7))
    + " |\n\nСсылка: <https://example.org/"
    + "очень-длинный-путь/" * 12
    + ">\n\n> Цитата с `длинным_идентификатором_без_пробелов_"
    + "и_ещё_длиннее_чтобы_не_влезть_в_строку` внутри.\n\nФормула $\\frac{1}{n}\\sum_{i=1}^{n}"
    " (y_i - \\hat{y}_i)^2$ и $$\\mathbb{E}[X] = \\int x p(x) dx$$",
]


def stress_source(write_source: Callable[[str], Path], repeat: int = 8) -> Path:
    """A very long week: the stress answers many times over, all pinned into 2026-W49."""
    parts = [HEAD.replace("{extra}", "unsubscribe: listmonk")]
    n = 0
    for _ in range(repeat):
        for answer in STRESS_ANSWERS:
            body = "\n".join("      " + line if line else "" for line in answer.split("\n"))
            parts.append(
                f"  - id: stress-{n}\n    header: 🧪\n"
                f"    question: 'Вопрос {n} с очень_длинным_словом_{'ж' * 60} и `кодом`?'\n"
                f"    grades: [junior, middle, senior]\n    tags: [stress, emoji]\n"
                f"    publish_at: 2026-12-0{1 + n % 6} {8 + n // 6:02d}:00\n"
                f"    answer: |\n{body}\n"
            )
            n += 1
    return write_source("".join(parts))


def overflow(page: Path, width: int) -> dict[str, object]:
    probed = page.with_name(page.stem + f"-probe-{width}.html")
    probed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    frame = page.with_name(page.stem + f"-frame-{width}.html")
    frame.write_text(FRAME.format(src=probed.name, width=width), encoding="utf-8")
    dom = browser.dump_dom(frame, width=1200)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run: {dom[-500:]}"
    result: dict[str, object] = json.loads(found.group(1).replace("&quot;", '"'))
    return result


def without_styles(html: str) -> str:
    return re.sub(r"<style\b[^>]*>.*?</style>", "", html, flags=re.S | re.I)


def pages(tmp_path: Path, html: str, name: str) -> list[tuple[str, Path]]:
    styled = tmp_path / f"{name}.html"
    styled.write_text(html, encoding="utf-8")
    bare = tmp_path / f"{name}-nostyle.html"
    bare.write_text(without_styles(html), encoding="utf-8")
    return [("styled", styled), ("nostyle", bare)]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["seed", "stress"])
def test_no_horizontal_overflow(
    case: str, tmp_path: Path, write_source: Callable[[str], Path]
) -> None:
    browser.chromium()
    if case == "seed":
        html = files_of(render_digest(SEED))["digest/2026-W52.html"].decode()
    else:
        rendered = render_digest(stress_source(write_source))
        # 24 heavy questions do not fit one email: they arrive as numbered parts.
        assert [w.message.split("; ")[-1] for w in rendered.warnings] == [
            "split into 3 emails (2026-W49-1, 2026-W49-2, 2026-W49-3)"
        ]
        files = files_of(rendered)
        for n in (1, 2, 3):
            check_email_html(files[f"digest/2026-W49-{n}.html"].decode())
        html = files["digest/2026-W49-1.html"].decode()
    SHOTS.mkdir(exist_ok=True)
    for variant, page in pages(tmp_path, html, case):
        for width in (600, 375):
            result = overflow(page, width)
            assert result["scroll"] == result["client"] == width and result["wide"] == [], (
                f"{case} {variant} at {width}px overflows: {result}"
            )
            for dark in (False, True):
                if variant == "nostyle" and dark:
                    continue  # without <style> there is no dark-mode block to test
                png = SHOTS / f"{case}-{variant}-{width}{'-dark' if dark else ''}.png"
                browser.screenshot(page, png, width, 2400, dark=dark)
                assert png.stat().st_size > 5000  # something was drawn
