"""The funds ledger: funds, entries and postings, the hash chain, verification and exports.

Depends on SQLAlchemy and the standard library only; it never imports the web shell.
"""
