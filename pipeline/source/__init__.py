"""The source: the one YAML file read with positions, its fields declared once, validated
into frozen values (:mod:`.model`), its publishing schedule and its lock file.

Imports only :mod:`pipeline.errors` and :mod:`pipeline.markup` (validation parses answers
to find their images)."""
