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


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A real 512 KiB tmpfs, to fill the disk for real (needs root; skipped elsewhere)."""
    where = tmp_path / "small"
    where.mkdir()
    if not _mount(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)]):
        pytest.skip("cannot mount a tmpfs here (needs root): the full-disk test needs a real small disk")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def readonly_dir(tmp_path: Path):
    """A real read-only mount (root ignores chmod, so a remounted tmpfs is the honest test)."""
    where = tmp_path / "ro"
    where.mkdir()
    if not _mount(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(where)]):
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
