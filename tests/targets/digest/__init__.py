"""The email digest: HTML, text, .eml, in Chromium and against the email package."""
