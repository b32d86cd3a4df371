"""Paths of XML elements, for errors a person can find in the file."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable


def local_name(tag: str) -> str:
    """A tag without its namespace ("{urn:...}Ntry" -> "Ntry")."""
    return tag.rpartition("}")[2]


def element_paths(root: ET.Element, name: Callable[[str], str] = local_name) -> dict[int, str]:
    """Each element's path from the root, by ``id`` of the element: "Document/BkToCstmrStmt/
    Stmt/Ntry[3]" (an index, from 1, only where a parent has several of that tag)."""
    paths = {id(root): name(root.tag)}
    stack = [root]
    while stack:
        parent = stack.pop()
        totals: dict[str, int] = {}
        for child in parent:
            totals[child.tag] = totals.get(child.tag, 0) + 1
        counts: dict[str, int] = {}
        for child in parent:
            counts[child.tag] = counts.get(child.tag, 0) + 1
            step = name(child.tag)
            if totals[child.tag] > 1:
                step += f"[{counts[child.tag]}]"
            paths[id(child)] = f"{paths[id(parent)]}/{step}"
            stack.append(child)
    return paths
