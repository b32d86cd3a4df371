"""Presenters: the domain's read models as people read them (labelled, formatted, text
rendered), shared by the pages (``app/web``) and the documents (``app/documents``).

Reads live in the domain (``ledger.queries``, ``proposals.queries``); presenters only
format what those return.
"""
