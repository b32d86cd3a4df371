"""A page's form as a browser would send it: its inputs' values, the options selected, the
radios and checkboxes checked. Tests then change a field or two and post it back, so they
prove the page round-trips what it shows rather than a dictionary the test made up."""

from __future__ import annotations

from html.parser import HTMLParser

Fields = dict[str, str | list[str]]


class _FormReader(HTMLParser):
    def __init__(self, marker: str) -> None:
        super().__init__(convert_charrefs=True)
        self.marker = marker
        self.forms: list[list[tuple[str, str]]] = []
        self.current: list[tuple[str, str]] | None = None
        self.select: str | None = None
        self.first_option: tuple[str, str] | None = None
        self.selected = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.current = []
        elif self.current is None:
            return
        elif tag == "input":
            kind = found.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind in ("radio", "checkbox") and "checked" not in found:
                return
            if "name" in found:
                self.current.append((found["name"], found.get("value", "on")))
        elif tag == "select":
            self.select, self.first_option, self.selected = found.get("name"), None, False
        elif tag == "option" and self.select is not None:
            option = (self.select, found.get("value", ""))
            if self.first_option is None:
                self.first_option = option
            if "selected" in found:
                self.current.append(option)
                self.selected = True

    def handle_endtag(self, tag: str) -> None:
        if self.current is None:
            return
        if tag == "select" and self.select is not None:
            if not self.selected and self.first_option is not None:
                self.current.append(self.first_option)
            self.select = None
        elif tag == "form":
            self.forms.append(self.current)
            self.current = None


def form_fields(html: str, marker: str) -> Fields:
    """The fields of the page's form that has a field named ``marker``."""
    reader = _FormReader(marker)
    reader.feed(html)
    for form in reader.forms:
        if any(name == marker for name, _ in form):
            fields: Fields = {}
            for name, value in form:
                if name in fields:
                    earlier = fields[name]
                    fields[name] = (
                        [*earlier, value] if isinstance(earlier, list) else [earlier, value]
                    )
                else:
                    fields[name] = value
            return fields
    raise AssertionError(f"the page has no form with a field {marker!r}")
