"""Delivery of built outputs: ``pipeline send`` hands a digest ``.eml`` to an SMTP server."""
