"""Files handed to an auditor, checked against a bundle's log: each file must be a receipt
the log names (by the SHA-256 of its bytes), and each receipt the log names should be there.

The bundle itself is checked first (``ledger.bundle.verify_bundle``); this only reads its
leaves of kind "attachment". Nothing here trusts a file's name: a file is matched by its
bytes; its name only helps to say which receipt a file that does not match claims to be.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ledger.canonical import ATTACHMENT, parse_leaf


@dataclass(frozen=True, slots=True)
class LoggedFile:
    sha256: str
    entry: int
    seq: int  # the leaf that names it
    content_type: str
    size: int


@dataclass(slots=True)
class FilesReport:
    matched: list[tuple[str, LoggedFile]] = field(default_factory=list)  # (file name, receipt)
    # Files whose bytes are no receipt of the log: (file name, why).
    not_matching: list[tuple[str, str]] = field(default_factory=list)
    missing: list[LoggedFile] = field(default_factory=list)  # receipts with no file in DIR

    @property
    def ok(self) -> bool:
        return not self.not_matching and not self.missing

    def lines(self) -> list[str]:
        found = [
            f"matches: {name} is the receipt {f.sha256} of entry {f.entry} ({f.content_type})"
            for name, f in self.matched
        ]
        wrong = [f"does not match: {name}: {why}" for name, why in self.not_matching]
        missing = [
            f"missing: the receipt {f.sha256} of entry {f.entry} ({f.content_type}, "
            f"{f.size} bytes) is not in the folder"
            for f in self.missing
        ]
        return [*found, *wrong, *missing]

    def summary(self) -> str:
        if self.ok:
            return f"ok: {len(self.matched)} file(s) match the receipts the log names"
        return (
            f"broken: {len(self.not_matching)} file(s) do not match a receipt of the log and "
            f"{len(self.missing)} receipt(s) of the log are missing"
        )


def logged_files(bundle: Path | str) -> list[LoggedFile]:
    """The receipts a bundle's log names, in log order."""
    files: list[LoggedFile] = []
    with zipfile.ZipFile(bundle) as archive, archive.open("leaves.jsonl") as leaves:
        for line in leaves:
            document = parse_leaf(line.rstrip(b"\n"))
            part = document.attachment
            if document.kind != ATTACHMENT or part is None:
                continue
            files.append(
                LoggedFile(
                    part.sha256, int(part.entry), int(document.seq), part.type, int(part.size)
                )
            )
    return files


def check_files(bundle: Path | str, directory: Path) -> FilesReport:
    """Every file of ``directory`` against the receipts the bundle's log names."""
    logged = logged_files(bundle)
    by_hash: dict[str, LoggedFile] = {}
    for logged_file in logged:
        by_hash.setdefault(logged_file.sha256, logged_file)
    report = FilesReport()
    seen: set[str] = set()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = str(path.relative_to(directory))
        content = path.read_bytes()
        sha256 = hashlib.sha256(content).hexdigest()
        receipt = by_hash.get(sha256)
        if receipt is not None and receipt.size == len(content):
            report.matched.append((name, receipt))
            seen.add(sha256)
            continue
        claimed = next((h for h in by_hash if path.stem.startswith(h[:16])), None)
        if claimed is not None:
            why = (
                f"named as the receipt {claimed} of entry {by_hash[claimed].entry}, but its "
                f"bytes hash to {sha256}: it was changed"
            )
        else:
            why = f"its bytes hash to {sha256}, which no receipt of the log has"
        report.not_matching.append((name, why))
    report.missing = [r for h, r in by_hash.items() if h not in seen]
    return report
