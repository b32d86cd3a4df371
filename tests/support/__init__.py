"""What the tests share: databases, people and groups, clients, outside tools.

Test modules import from here, never from ``tests/conftest.py`` (which only declares the
fixtures) nor from one another.
"""
