"""Fixtures and helpers shared by the record/takes tests (no tests here; imported by them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def _mount(args: list[str]) -> bool:
    if shutil.which("mount") is None:
        return False
    return subprocess.run(args, capture_output=True).returncode == 0


def _tmpfs(where: Path, options: str, why: str):
    """Mount a real tmpfs at `where` for one test (needs root: skipped elsewhere)."""
    where.mkdir()
    if not _mount(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)]):
        pytest.skip(f"cannot mount a tmpfs here (needs root): {why}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A real 512 KiB tmpfs, to fill the disk for real."""
    yield from _tmpfs(tmp_path / "small", "size=512k", "the full-disk test needs a real small disk")


@pytest.fixture
def readonly_dir(tmp_path: Path):
    """A real read-only mount (root ignores chmod, so a read-only tmpfs is the honest test)."""
    yield from _tmpfs(tmp_path / "ro", "size=1m,ro", "the read-only test needs a read-only mount")
