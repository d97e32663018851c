"""``pipeline import-telegram``: a Telegram Desktop export (or Markdown notes) into questions."""
