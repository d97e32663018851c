"""Telegram: a post per question (HTML and its Markdown twin), the desk page, the quiz polls
and the publishing calendar.

The entry points are in :mod:`~pipeline.targets.telegram.target`; the post's text (spans,
Telegram HTML, the Markdown twin, limits) is gathered in :mod:`~pipeline.targets.telegram.text`;
:mod:`~pipeline.targets.telegram.messages`, :mod:`~pipeline.targets.telegram.desk`,
:mod:`~pipeline.targets.telegram.ics` and :mod:`~pipeline.targets.telegram.quiz` make the
messages, the desk page, the calendar and the polls.
"""
