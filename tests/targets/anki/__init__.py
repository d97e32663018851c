"""The Anki deck, imported by Anki's own backend and drawn by Chromium."""
