"""The app's routes, as the tests that walk every one of them see them."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.routes import HTTPRoute

# A path parameter as Litestar writes it: ``{group:str}``.
PATH_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, but Litestar's automatic OPTIONS."""
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            served.update((method, route.path) for method in route.methods if method != "OPTIONS")
        else:  # a websocket or a mounted ASGI app: classify it as well
            served.add((type(route).__name__, route.path))
    return served
