"""The one way every document (tickets, badges, score sheets) becomes a PDF.

`await render_pdf(html)` in the app, `render_pdf_sync(html)` in the CLI. Both run WeasyPrint on one
dedicated worker thread, which owns everything WeasyPrint keeps between documents:

- one FontConfiguration, so the vendored fonts (static/css/fonts.css -> static/fonts/) are decoded and
  registered once, not per document;
- the parsed shared stylesheets: static/css/fonts.css, templates/pdf/base.css, plus any named in
  `stylesheets` (files in templates/pdf/), each parsed once and re-read only when the file changes;
- an image cache shared by documents, emptied between documents once it grows.

One thread because Pango and fontconfig objects must not be used by two threads at once, and because
layout is CPU-bound Python: a second thread would not make PDFs faster on our two cores. Documents queue
up instead of blocking the event loop.

Relative URLs in documents resolve against static/ (`fonts/...`, `css/...`). Only files under static/ and
data: URIs are fetched: a document can never make the server request another address.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from kernel.settings import PROJECT_ROOT

STATIC_DIR = PROJECT_ROOT / "static"
PDF_TEMPLATES_DIR = PROJECT_ROOT / "templates" / "pdf"
SHARED_STYLESHEETS = (STATIC_DIR / "css" / "fonts.css", PDF_TEMPLATES_DIR / "base.css")
_IMAGE_CACHE_MAX_ENTRIES = 64

log = logging.getLogger("kernel.pdf")


class PdfError(RuntimeError):
    """A document could not be rendered."""


class _Renderer:
    """WeasyPrint state, only ever touched from the worker thread."""

    def __init__(self) -> None:
        from weasyprint.text.fonts import FontConfiguration

        self.font_config = FontConfiguration()
        self.url_fetcher = _static_only_fetcher()
        self.stylesheets: dict[Path, tuple[int, object]] = {}
        self.image_cache: dict = {}

    def stylesheet(self, path: Path):
        from weasyprint import CSS

        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            raise PdfError(f"stylesheet not found: {path}") from None
        cached = self.stylesheets.get(path)
        if cached is None or cached[0] != mtime:
            css = CSS(filename=str(path), font_config=self.font_config, url_fetcher=self.url_fetcher)
            self.stylesheets[path] = cached = (mtime, css)
        return cached[1]

    def render(self, html: str, stylesheets: tuple[str, ...]) -> bytes:
        from weasyprint import HTML

        paths = [*SHARED_STYLESHEETS, *(_stylesheet_path(name) for name in stylesheets)]
        css = [self.stylesheet(path) for path in paths]
        if len(self.image_cache) > _IMAGE_CACHE_MAX_ENTRIES:
            self.image_cache.clear()  # safe here: no document is being rendered on this thread
        document = HTML(string=html, base_url=str(STATIC_DIR) + "/", url_fetcher=self.url_fetcher)
        return document.write_pdf(
            stylesheets=css, font_config=self.font_config, cache=self.image_cache, pdf_tags=True
        )


def _stylesheet_path(name: str) -> Path:
    path = (PDF_TEMPLATES_DIR / name).resolve()
    if not path.is_relative_to(PDF_TEMPLATES_DIR.resolve()) or path.suffix != ".css":
        raise PdfError(f"stylesheets are .css files in templates/pdf/, not {name!r}")
    return path


def _static_only_fetcher():
    from urllib.parse import unquote, urlsplit

    from weasyprint.urls import URLFetcher

    static_root = STATIC_DIR.resolve()

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = Path(unquote(urlsplit(url).path)).resolve()
                if path.is_relative_to(static_root) and path.is_file():
                    return super().fetch(url, headers)
            raise ValueError(f"PDFs only load files under static/ and data: URIs, not {url[:80]!r}")

    return StaticOnlyFetcher(allowed_protocols=("file", "data"), timeout=5)


# --- the worker thread -----------------------------------------------------------------------------

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_renderer: _Renderer | None = None


def _reset_after_fork() -> None:
    # A forked worker process does not inherit the thread; start afresh on first use.
    global _executor, _renderer, _lock
    _executor, _renderer, _lock = None, None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


@atexit.register
def _release_fonts() -> None:
    # Freeing the FontConfiguration while modules are torn down crashes Pango (segfault at exit);
    # atexit runs once the worker thread has finished and before that teardown.
    global _renderer
    _renderer = None


def _render_on_worker(html: str, stylesheets: tuple[str, ...]) -> bytes:
    global _renderer
    if _renderer is None:
        _renderer = _Renderer()
    return _renderer.render(html, stylesheets)


def _submit(html: str, stylesheets: tuple[str, ...]) -> Future:
    global _executor
    if not isinstance(html, str):
        raise TypeError("render_pdf takes the HTML as a str")
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="denhub-pdf")
        return _executor.submit(_render_on_worker, html, tuple(stylesheets))


async def render_pdf(html: str, *, stylesheets: tuple[str, ...] = ()) -> bytes:
    """The PDF for `html`, rendered off the event loop. `stylesheets` name extra .css files in
    templates/pdf/, added after the shared ones."""
    return await asyncio.wrap_future(_submit(html, stylesheets))


def render_pdf_sync(html: str, *, stylesheets: tuple[str, ...] = ()) -> bytes:
    """The same as render_pdf, for the CLI and other code outside the event loop."""
    return _submit(html, stylesheets).result()


async def warm_up() -> None:
    """Load fonts and stylesheets now (e.g. in the app's lifespan) so the first ticket is not slow."""
    await render_pdf("<!doctype html><title>warm up</title><p>denhub বাংলা ਪੰਜਾਬੀ हिन्दी عربي <span lang=ur>اردو</span></p>")
