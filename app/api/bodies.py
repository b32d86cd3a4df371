"""JSON bodies are read strictly: a value of the wrong JSON type is refused, not converted.

Litestar converts a handler's arguments leniently, as it must for query strings, where every
value is text: ``"true"``, ``1`` and ``0`` would become booleans and ``"5"`` a number. In a
JSON body the types are the caller's own, so ``{"public": 1}`` is a mistake to refuse (422)
rather than a guess to make. Here the body is decoded into the handler's type before
Litestar sees it; the already typed value then passes through Litestar's conversion as it is.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

# Litestar's name for the body argument, and how msgspec says where in the body a fault is.
BODY = "data"
_AT = " - at `$"


def _body_type(request: Request[Any, Any, Any]) -> Any:
    """The type the handler takes its body as, None if it takes none."""
    try:
        field = request.route_handler.parsed_fn_signature.parameters.get(BODY)
    except AttributeError:  # no route was matched
        return None
    return None if field is None else field.annotation


class StrictJSONRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        value = await super().json()
        body_type = _body_type(self)
        if body_type is None:
            return value
        try:
            return msgspec.convert(value, body_type, strict=True)
        except msgspec.ValidationError as error:
            # Litestar's own shape for a body's error (see app.errors._field_errors): the
            # field's path, or the body's own name for a fault of the body as a whole.
            message, _, where = str(error).partition(_AT)
            where = where.removesuffix("`")
            key = where[1:] if where.startswith(".") else BODY
            raise ValidationException(
                detail=f"Validation failed for {self.method} {self.url}",
                extra=[{"message": message, "key": key, "source": "body"}],
            ) from error
