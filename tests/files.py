"""Files the tests make. Each test reads its own copies; people get one of each in tests/artifacts/.

Tests run in parallel (pytest-xdist), and two of them may make a file of the same name at once (the
SQLite and PostgreSQL runs of one test, or a module's fixture in two workers): neither may read the other's
half-written file, so checks run on files in a directory of the test's own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def need(tool: str, package: str = "poppler-utils") -> str:
    """The path of a command-line tool the test needs (skipped, or failed in CI, without it)."""
    path = shutil.which(tool)
    if path is None:
        from tests.conftest import skip_or_fail

        skip_or_fail(f"{tool} ({package}) not installed")
    return path


def workdir() -> Path:
    """A new empty directory of this process's own, removed when the process ends."""
    path = Path(tempfile.mkdtemp(prefix="denhub-test-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def keep(source: Path, name: str | None = None) -> Path:
    """Copy `source` to tests/artifacts/ for people to look at. Copied aside, then renamed into place, so
    that a file of the same name is never seen half-written."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / (name or source.name)
    aside = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.copyfile(source, aside)
    os.replace(aside, target)
    return target


def write_pdf(pdf: bytes, stem: str) -> Path:
    """`pdf` written as <stem>.pdf in a directory of its own (for poppler's tools), and kept."""
    path = workdir() / f"{stem}.pdf"
    path.write_bytes(pdf)
    keep(path)
    return path


def pdf_pages(pdf: bytes, stem: str, dpi: int) -> list[Path]:
    """Each page of `pdf` as a PNG made by poppler's pdftoppm at `dpi`, in page order; each is also kept as
    tests/artifacts/<stem>-N.png."""
    path = write_pdf(pdf, stem)
    subprocess.run([need("pdftoppm"), "-r", str(dpi), "-png", str(path), str(path.parent / stem)], check=True)
    pages = sorted(path.parent.glob(f"{stem}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    for page in pages:
        keep(page)
    for old in ARTIFACTS.glob(f"{stem}-*.png"):  # pages past the end, left by an earlier, longer PDF
        if int(old.stem.rsplit("-", 1)[1]) > len(pages):
            old.unlink(missing_ok=True)
    return pages
