"""Tools nobody here wrote, which check what we export: found on PATH (``bean-check`` also
next to this Python); missing, a test is skipped with the reason outside CI and fails in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.databases import unavailable

TOOL_TIMEOUT = 120  # seconds; hledger 1.25 reads 2,000 transactions in well under one


def need_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        unavailable(f"{name} is not installed (apt-get install hledger; pip install beancount)")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # hledger 1.25 decodes files with the locale's encoding: without a UTF-8 locale it stops
    # at the first non-ASCII byte ("invalid byte sequence").
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    return subprocess.run(
        args, capture_output=True, text=True, timeout=TOOL_TIMEOUT, env=env, check=False
    )
