"""The quiz poll: a question's ``quiz:`` as a Bot API ``sendPoll`` payload (type quiz).

Telegram refuses a poll over its limits; :func:`quiz_payload` reports each such problem at
the quiz in the source instead of writing a payload.
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import Problem
from pipeline.source.model import Question
from pipeline.targets.telegram import text as tt

#: sendPoll limits (Bot API), counted in UTF-16 units like every Telegram length.
POLL_QUESTION_LIMIT = 300
POLL_OPTION_LIMIT = 100
POLL_OPTIONS = (2, 12)
POLL_EXPLANATION_LIMIT = 200
POLL_EXPLANATION_LINES = 2


def quiz_payload(
    q: Question, title: str, channel_url: str | None
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """A Bot API ``sendPoll`` (type quiz) body, or located errors for what Telegram refuses."""
    quiz = q.quiz
    assert quiz is not None
    path = f"questions[{q.index}].quiz"
    problems: list[Problem] = []
    question = (quiz.question or title).strip()

    def check(ok: bool, where: str, message: str) -> None:
        if not ok:
            problems.append(Problem(quiz.pos, f"{path}.{where}", message))

    size = tt.utf16_len(question)
    check(
        0 < size <= POLL_QUESTION_LIMIT,
        "question",
        f"a quiz question may have at most {POLL_QUESTION_LIMIT} characters; "
        f"{'quiz.question has' if quiz.question else 'the question text has'} {size}"
        + ("" if quiz.question else "; add a shorter quiz.question"),
    )
    check(
        POLL_OPTIONS[0] <= len(quiz.options) <= POLL_OPTIONS[1],
        "options",
        f"a quiz has {POLL_OPTIONS[0]} to {POLL_OPTIONS[1]} options; got {len(quiz.options)}",
    )
    for i, option in enumerate(quiz.options):
        size = tt.utf16_len(option.strip())
        check(
            0 < size <= POLL_OPTION_LIMIT,
            f"options[{i}]",
            f"an option may have 1 to {POLL_OPTION_LIMIT} characters; got {size}",
        )
    check(
        0 <= quiz.correct < len(quiz.options),
        "correct",
        f"expected a number from 1 to {len(quiz.options)}; got {quiz.correct + 1}",
    )
    if quiz.explanation is not None:
        size = tt.utf16_len(quiz.explanation.strip())
        check(
            size <= POLL_EXPLANATION_LIMIT,
            "explanation",
            f"an explanation may have at most {POLL_EXPLANATION_LIMIT} characters; got {size}",
        )
        lines = quiz.explanation.strip().count("\n")
        check(
            lines <= POLL_EXPLANATION_LINES,
            "explanation",
            f"an explanation may have at most {POLL_EXPLANATION_LINES} line breaks; got {lines}",
        )
    if problems:
        return None, problems
    payload: dict[str, Any] = {}
    if channel_url and channel_url.rstrip("/").rsplit("/", 1)[-1]:
        payload["chat_id"] = "@" + channel_url.rstrip("/").rsplit("/", 1)[-1]
    payload |= {
        "question": question,
        "options": [{"text": o.strip()} for o in quiz.options],
        "type": "quiz",
        "correct_option_id": quiz.correct,
        "is_anonymous": True,
    }
    if quiz.explanation:
        payload["explanation"] = quiz.explanation.strip()
    return payload, []
