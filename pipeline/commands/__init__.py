"""The small commands beside the build: ``new`` (append a question), ``schema`` (the JSON
Schema for editors), ``stats`` (questions per grade and tag)."""
