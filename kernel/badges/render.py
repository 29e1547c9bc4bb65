"""Badges to PDF: small jobs in this process, big ones in chunks of whole sheets on worker processes.

Each worker renders its chunks through kernel.pdf, with its own renderer (fonts and stylesheets loaded once
per worker, when it starts); pypdf joins the chunks in order. WeasyPrint is single-threaded Python, so on
our two cores two workers halve the time of a big job; a chunk costs no more per badge than one long
document (measured 6.5 to 7.7 ms of CPU a badge without QR codes, whatever the chunk size), and a few
sheets per chunk keep every worker's memory small and progress reports frequent.
"""

from __future__ import annotations

import asyncio
import atexit
import io
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from kernel.badges.layout import (
    LAYOUTS,
    STYLESHEETS,
    BadgeData,
    Layout,
    NothingToPrint,
    _advances,
    badges_html,
    page_count,
)
from kernel.pdf import PdfError, render_pdf, render_pdf_sync

Progress = Callable[[int, int], None]  # (badges done, badges in all)
CHUNK_SHEETS = 3  # 30 badges: a fraction of a second each, so work spreads evenly and progress moves
PARALLEL_FROM_SHEETS = 4  # below this a process pool costs more than it saves


def _worker_count() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


_pool_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _warm_worker() -> None:
    # Load fonts and stylesheets in each worker as it starts, not in the first chunk it renders.
    render_pdf_sync('<p class="name">denhub বাংলা</p>', stylesheets=STYLESHEETS)
    _advances(400), _advances(700)


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            import multiprocessing

            # forkserver: workers fork from a clean single-threaded process, never from the app (its event
            # loop, the kernel.pdf thread and database pools must not be copied mid-flight).
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                context.set_forkserver_preload(["kernel.badges", "weasyprint"])
            _pool = ProcessPoolExecutor(max_workers=_worker_count(), mp_context=context,
                                        initializer=_warm_worker, max_tasks_per_child=200)
        return _pool


def _drop_pool() -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


atexit.register(_drop_pool)


def _render_chunk(badges: list[BadgeData], layout_key: str, with_qr: bool, title: str) -> bytes:
    """In a worker process: one chunk of whole sheets through kernel.pdf."""
    html = badges_html(badges, layout_key, with_qr=with_qr, title=title)
    return render_pdf_sync(html, stylesheets=STYLESHEETS)


def _chunks(badges: Sequence[BadgeData], layout: Layout, chunk_sheets: int) -> list[list[BadgeData]]:
    size = layout.per_page * chunk_sheets
    return [list(badges[i:i + size]) for i in range(0, len(badges), size)]


class _Merger:
    """Joins the chunks in order as they arrive, while the workers render the next ones: adding pages is
    most of pypdf's work (0.45 s of 0.55 s for 500 badges), writing the file at the end is quick."""

    def __init__(self, title: str) -> None:
        from pypdf import PdfWriter

        self.writer = PdfWriter()
        self.title = title

    def add(self, part: bytes) -> None:
        from pypdf import PdfReader

        self.writer.append(PdfReader(io.BytesIO(part)))  # append drops each chunk's structure tree

    def pdf(self) -> bytes:
        from pypdf.generic import NameObject, TextStringObject

        self.writer.add_metadata({"/Title": self.title, "/Creator": "denhub"})
        self.writer.root_object[NameObject("/Lang")] = TextStringObject("en-GB")  # pypdf: the document catalog
        out = io.BytesIO()
        self.writer.write(out)
        return out.getvalue()


@dataclass(frozen=True)
class _Plan:
    layout: Layout
    chunks: list[list[BadgeData]]  # empty: render in this process, in one document

    @classmethod
    def make(cls, badges: Sequence[BadgeData], layout: Layout | str, parallel: bool | None,
             chunk_sheets: int | None) -> _Plan:
        layout = LAYOUTS[layout] if isinstance(layout, str) else layout
        if not badges:
            raise NothingToPrint("There are no badges to print.")
        sheets = page_count(len(badges), layout)
        if parallel is None:
            parallel = _worker_count() > 1 and sheets >= PARALLEL_FROM_SHEETS
        if not parallel:
            return cls(layout, [])
        return cls(layout, _chunks(badges, layout, chunk_sheets or CHUNK_SHEETS))


def render_badges(badges: Sequence[BadgeData], layout: Layout | str = "sheet", *, title: str = "Badges",
                  with_qr: bool = True, progress: Progress | None = None, parallel: bool | None = None,
                  chunk_sheets: int | None = None) -> bytes:
    """The badges as one PDF (for the CLI and other code outside the event loop).

    Raises NothingToPrint for an empty list. `parallel` None decides by size."""
    plan = _Plan.make(badges, layout, parallel, chunk_sheets)
    total = len(badges)
    if not plan.chunks:
        pdf = render_pdf_sync(badges_html(badges, plan.layout, with_qr=with_qr, title=title),
                              stylesheets=STYLESHEETS)
        if progress:
            progress(total, total)
        return pdf
    pool = _get_pool()
    futures = [pool.submit(_render_chunk, chunk, plan.layout.key, with_qr, title) for chunk in plan.chunks]
    merger, done = _Merger(title), 0
    try:
        for future, chunk in zip(futures, plan.chunks, strict=True):  # in order: progress is monotonic
            merger.add(_result(future))
            done += len(chunk)
            if progress:
                progress(done, total)
    finally:
        for future in futures:
            future.cancel()
    return merger.pdf()


def _result(future: Future) -> bytes:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        _drop_pool()  # a worker died (killed, out of memory): the next job starts a fresh pool
        raise PdfError("a badge worker process stopped; try again") from exc


async def render_badges_async(badges: Sequence[BadgeData], layout: Layout | str = "sheet", *,
                              title: str = "Badges", with_qr: bool = True, progress: Progress | None = None,
                              parallel: bool | None = None, chunk_sheets: int | None = None) -> bytes:
    """The same as render_badges, without blocking the event loop."""
    plan = _Plan.make(badges, layout, parallel, chunk_sheets)
    total = len(badges)
    if not plan.chunks:
        html = await asyncio.to_thread(badges_html, badges, plan.layout, with_qr=with_qr, title=title)
        pdf = await render_pdf(html, stylesheets=STYLESHEETS)
        if progress:
            progress(total, total)
        return pdf
    pool = _get_pool()
    futures = [pool.submit(_render_chunk, chunk, plan.layout.key, with_qr, title) for chunk in plan.chunks]
    merger, done = _Merger(title), 0
    try:
        for future, chunk in zip(futures, plan.chunks, strict=True):
            try:
                await asyncio.wrap_future(future)
            except BrokenProcessPool:
                pass  # _result says so
            await asyncio.to_thread(merger.add, _result(future))
            done += len(chunk)
            if progress:
                progress(done, total)
    finally:
        for future in futures:  # on any failure: do not render what nobody will download
            future.cancel()
    return await asyncio.to_thread(merger.pdf)
