"""Images for the deck's tests."""

from __future__ import annotations

import struct
import zlib


def tiny_png(rgb: tuple[int, int, int]) -> bytes:
    """A valid 2x2 PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


RICH = r"""
deck:
  title: Проверочная колода
  slug: rich-deck
schedule:
  start: 2026-12-01
questions:
  - id: code-and-math
    header: 🧮
    question: Что выведет код и чему равна $\sum_{i=1}^n x_i^2$?
    answer: |
      Формула $a_1 * b_2 = c_3$ и блок:

      $$\hat{y} = \sigma(w^T x + b)$$

      Цена: $5 и $10, а в коде `echo $HOME` — не формула.

      ```python
      def f(x: int) -> str:
          return f"{x!r} < 10 && {{ x }}"
      ```

      Текст с {{ x }} и {% raw %} остаётся как есть.
    grades: [senior]
    tags: [python, math]
  - id: table-and-lists
    question: Таблица и вложенные списки 🎉
    answer: |
      | Метрика | Формула |
      |:--|--:|
      | MSE | $\frac{1}{n}\sum (y - \hat y)^2$ |
      | MAE | `abs` |

      1. Первый
          - вложенный *курсив*
              - ещё глубже
      2. Второй 👩‍👩‍👧‍👦
    grades: [middle]
    tags: [metrics]
  - id: image-question
    question: Что на картинке?
    answer: |
      ![Точка](img/dot.png "красная точка")

      Она же ещё раз: ![снова](img/dot.png), синяя ![синяя](img/blue.png) и удалённая
      ![удалённая](https://example.org/x.png).
    grades: [junior]
    tags: [images]
  - id: raw-html
    question: Сырой <b>HTML</b> в вопросе
    answer: |
      <div onclick="alert(1)">клик</div>
      <script>alert("xss")</script>

      <img src="https://example.org/a.png" onerror="alert(2)"> и
      <a href="javascript:alert(3)">ссылка</a>, <iframe src="https://evil.example"></iframe>
      <b>жирный</b> <span style="color:red">красный</span>
    grades: [junior, senior]
    tags: [html]
"""
