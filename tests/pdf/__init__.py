"""PDF documents parsed back: statements and receipts."""
