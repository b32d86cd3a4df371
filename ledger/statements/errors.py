"""The one error of statement parsing: the file (or its mapping) is refused, whole.

It is an ``InvalidInput`` (HTTP 422 through the web shell's one table) whose message names
where the fault is: the line number for CSV and MT940, the XML element's path for CAMT.053
and OFX/QFX, so that a treasurer can open the file and see it.
"""

from __future__ import annotations

from ledger.errors import InvalidInput


class StatementError(InvalidInput):
    """A statement file that cannot be read whole: unknown format, wrong encoding, a date,
    amount or currency that does not parse or is not the place's, an empty file, a mapping
    that does not fit the file. ``line`` or ``element`` says where; ``field`` is the form
    field at fault (``file``, or ``mapping`` when the mapping names what the file lacks)."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        element: str | None = None,
        field: str = "file",
    ) -> None:
        where = f"Line {line}: " if line is not None else f"At {element}: " if element else ""
        super().__init__(where + message, field=field)
        self.line = line
        self.element = element
