"""The weekly email digest: HTML, plain text and a ready ``.eml`` per week."""
