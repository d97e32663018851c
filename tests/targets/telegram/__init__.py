"""Telegram posts, checked by TDLib; the desk and the calendar."""
