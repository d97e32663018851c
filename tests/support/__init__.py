"""What several test modules share: banks, the real readers (Anki's backend, TDLib, Chromium),
hostile inputs and reference twins of the fast writers."""
