"""The weekly email digest: HTML, plain text and a ready ``.eml`` per week.

The target's entry points are in :mod:`pipeline.targets.digest.target`, which also maps the
package's modules.
"""
