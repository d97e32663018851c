"""Telegram: a post per question (HTML and its Markdown twin), the desk page, the quiz polls
and the publishing calendar."""
