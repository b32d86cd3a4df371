"""The JSON API under ``/api``: thin controllers that call the domain services."""
