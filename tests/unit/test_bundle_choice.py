"""When ``verify_bundle`` checks leaves with two processes: large bundles, two cores, fork."""

from __future__ import annotations

import os

import pytest

from ledger import bundle


def test_small_bundles_stay_in_one_process() -> None:
    assert not bundle.uses_two_processes(bundle.TWO_PROCESSES_FROM - 1)


@pytest.mark.parametrize(("cores", "expected"), [(1, False), (2, True), (8, True)])
def test_large_bundles_use_a_second_core_when_there_is_one(
    monkeypatch: pytest.MonkeyPatch, cores: int, expected: bool
) -> None:
    monkeypatch.setattr(bundle, "_cores", lambda: cores)
    assert bundle.uses_two_processes(bundle.TWO_PROCESSES_FROM) is expected


def test_without_fork_one_process_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle, "_cores", lambda: 4)
    monkeypatch.delattr(os, "fork")
    assert not bundle.uses_two_processes(bundle.TWO_PROCESSES_FROM)


def test_cores_without_affinity_are_the_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert bundle._cores() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert bundle._cores() == 1
