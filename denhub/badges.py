"""Name badges: what goes on one (BadgeData), the page layouts, names that shrink to fit, and the PDF.

Pure: callers (ticketing.badges, the CLI) load the people; nothing here touches the database.

Every page goes through denhub.pdf, the one way documents become PDFs. A job of more than a few sheets is
cut into chunks of whole sheets that worker processes render at the same time, each worker with its own
denhub.pdf renderer (fonts and stylesheets loaded once per worker, not per chunk); pypdf joins the chunks
in order. Why, measured on our two cores with 500 badges:
- WeasyPrint is single-threaded Python and slows down more than linearly with the length of a document
  (about 100 ms a sheet in 2-sheet documents, 190 ms in 50-sheet ones), so chunks win even on one core;
- a QR code as an inline SVG path costs WeasyPrint far more than the text of the badge (a run-length
  path per code: 8 times the text-only time); a PNG of one pixel per module, scaled up with
  `image-rendering: pixelated`, costs about as much as a line of text and prints just as sharp;
- qrcode's search for the best of 8 mask patterns is 80 % of the time to make a code (15 ms of 18 ms).
  The payload is base64 of JSON and a signature, as good as random, so any mask scans as well: we fix one.
  Codes are cached by payload, so printing the same badges again skips the encoding.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import functools
import io
import math
import os
import threading
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from denhub.pdf import PdfError, render_pdf, render_pdf_sync
from denhub.settings import PROJECT_ROOT

PDF_MIMETYPE = "application/pdf"
STYLESHEETS = ("badges.css",)
MM_PER_PT = 25.4 / 72

# Role key -> words printed in the band. The band colours are in templates/pdf/badges.css.
ROLE_LABELS = {
    "attendee": "Attendee",
    "judge": "Judge",
    "entrant": "Entrant",
    "volunteer": "Volunteer",
    "organiser": "Organiser",
}


class NothingToPrint(ValueError):
    """No badge matches: an empty event, or filters that leave nobody."""


@dataclass(frozen=True)
class BadgeData:
    name: str
    organisation: str
    role: str  # a key of ROLE_LABELS (another role prints in a neutral band with its own name)
    event_title: str
    qr_payload: str = ""  # attendees: ticketing.outputs.qr_payload(...); others: usually none
    ticket_type_id: int | None = None  # attendees: for choosing badges by ticket type; not printed

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role) or self.role.replace("_", " ").strip().capitalize() or "Guest"


# --- layouts ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Box:
    """A text or image area on the card, in mm from the card's top left corner."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Layout:
    key: str
    label: str
    page: tuple[float, float]  # mm
    cell: tuple[float, float]  # the badge as cut, mm
    grid: tuple[int, int]  # columns, rows
    origin: tuple[float, float]  # top left of the grid on the page
    inset: float  # white space between the cut line and the card
    band_h: float
    role_pt: float
    qr: Box
    name: Box
    name_wide: Box  # where the name goes when the badge has no QR code
    org: Box
    org_wide: Box
    title: Box
    name_pt: tuple[float, float]  # largest, smallest
    org_pt: tuple[float, float]
    title_pt: tuple[float, float]
    cut_marks: bool = True

    @property
    def per_page(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def card(self) -> tuple[float, float]:
        return self.cell[0] - 2 * self.inset, self.cell[1] - 2 * self.inset


LAYOUTS = {
    layout.key: layout for layout in (
        # 10 a sheet: 2 x 5 of 90 x 55 mm (business-card label stock), 15 mm / 11 mm page margins.
        Layout(
            key="sheet", label="A4 label sheet, 10 badges of 90 × 55 mm", page=(210, 297), cell=(90, 55),
            grid=(2, 5), origin=(15, 11), inset=2, band_h=8, role_pt=9.5,
            qr=Box(62, 10.5, 22, 22), name=Box(3, 10.5, 57, 22), name_wide=Box(3, 10.5, 80, 22),
            org=Box(3, 33.5, 57, 7.5), org_wide=Box(3, 33.5, 80, 7.5), title=Box(3, 42, 80, 7.5),
            name_pt=(22, 6), org_pt=(10, 6), title_pt=(8, 5.5),
        ),
        # 4 a sheet: A6 (105 x 148.5 mm) quarters of A4, for lanyard pouches.
        Layout(
            key="a6", label="A6, 4 badges to an A4 sheet", page=(210, 297), cell=(105, 148.5),
            grid=(2, 2), origin=(0, 0), inset=6, band_h=15, role_pt=17,
            qr=Box(23.5, 72, 46, 46), name=Box(5, 20, 83, 36), name_wide=Box(5, 20, 83, 62),
            org=Box(5, 58, 83, 12), org_wide=Box(5, 86, 83, 18), title=Box(5, 121, 83, 13),
            name_pt=(36, 8), org_pt=(15, 7), title_pt=(11, 6),
        ),
        # One badge a page for a label printer: 100 x 62 mm (Brother DK-11202), no cut marks.
        Layout(
            key="label", label="Label printer, 62 × 100 mm labels (one badge each)", page=(100, 62),
            cell=(100, 62), grid=(1, 1), origin=(0, 0), inset=2, band_h=9, role_pt=10.5,
            qr=Box(69, 12, 24, 24), name=Box(3, 12, 63, 24), name_wide=Box(3, 12, 90, 24),
            org=Box(3, 37.5, 63, 8), org_wide=Box(3, 37.5, 90, 8), title=Box(3, 47, 90, 8),
            name_pt=(24, 6), org_pt=(11, 6), title_pt=(8.5, 5.5), cut_marks=False,
        ),
    )
}


def page_count(n_badges: int, layout: Layout) -> int:
    return math.ceil(n_badges / layout.per_page)


# --- fitting text: WeasyPrint has no fit-text, so sizes come from the fonts' own advance widths ----------

_FONT_FILES = {
    400: ("noto-sans-latin-400-normal", "noto-sans-latin-ext-400-normal", "noto-sans-bengali-bengali-400-normal"),
    700: ("noto-sans-latin-700-normal", "noto-sans-latin-ext-700-normal", "noto-sans-bengali-bengali-700-normal"),
}
SAFETY = 0.93  # of the box width: kerning, shaping and rounding differ a little from the sum of advances


@functools.cache
def _advances(weight: int) -> dict[int, float]:
    """Code point -> advance in em, from the vendored fonts in the order static/css/fonts.css uses them."""
    from fontTools.ttLib import TTFont

    advances: dict[int, float] = {}
    for stem in _FONT_FILES[weight]:
        font = TTFont(PROJECT_ROOT / "static" / "fonts" / f"{stem}.woff2", lazy=True)
        upem, metrics = font["head"].unitsPerEm, font["hmtx"].metrics
        for code, glyph in font.getBestCmap().items():
            advances.setdefault(code, metrics[glyph][0] / upem)
        font.close()
    return advances


def text_em(text: str, weight: int = 400) -> float:
    """The width of `text` in em, counting a character no vendored font has as wide (emoji, CJK)."""
    advances = _advances(weight)
    total = 0.0
    for char in text:
        width = advances.get(ord(char))
        if width is None:
            category = unicodedata.category(char)
            width = 0.0 if category in ("Mn", "Me", "Cf") else 1.25
        total += width
    return total


def _lines(words: list[float], space: float, room: float) -> int:
    """Lines that words of these widths take in a line of width `room`, breaking long words anywhere."""
    lines, used = 1, 0.0
    for width in words:
        if used and used + space + width <= room:
            used += space + width
            continue
        if used:
            lines += 1
        if width > room:  # overflow-wrap: anywhere
            full, used = divmod(width, room)
            lines += int(full) - (0 if used else 1)
            used = used or room
        else:
            used = width
    return lines


def fit_pt(text: str, box: Box, sizes: tuple[float, float], *, weight: int = 400, line_height: float = 1.25,
           max_lines: int | None = None) -> tuple[float, float | None]:
    """(size, clip): the largest size (pt, in 0.5 steps) at which `text` wraps into the box, in at most
    `max_lines` lines when it can be; at the smallest size when nothing fits, with `clip` the box height
    (mm) cut to whole lines so that the overflow is hidden between lines, never through one."""
    largest, smallest = sizes
    words = [text_em(word, weight) for word in text.split()]
    if not words:
        return largest, None
    space = text_em(" ", weight)

    def lines_at(size: float) -> int:
        return _lines(words, space, box.w * SAFETY / (size * MM_PER_PT))

    def fits(size: float, limit: int | None) -> bool:
        lines = lines_at(size)
        return (limit is None or lines <= limit) and lines * line_height * size * MM_PER_PT <= box.h

    for limit in ((max_lines, None) if max_lines else (None,)):
        size = largest
        while size >= smallest:
            if fits(size, limit):
                return size, None
            size -= 0.5
    line_mm = line_height * smallest * MM_PER_PT
    return smallest, round(max(1, math.floor(box.h / line_mm)) * line_mm, 2)


# --- QR codes --------------------------------------------------------------------------------------

QR_BORDER = 2  # modules of quiet zone inside the image; the card's white space adds more


@functools.lru_cache(maxsize=4096)
def qr_png_uri(payload: str) -> str:
    """A data: URI of a greyscale PNG with one pixel per module (error correction M, as denhub.qr).

    Greyscale because WeasyPrint embeds an "L" PNG as it is, where it converts a 1-bit one to RGB and
    compresses it again."""
    import qrcode
    import qrcode.constants
    from PIL import Image

    data = payload.encode("utf-8")
    version = _qr_version(len(data))
    code = qrcode.QRCode(version=version, border=QR_BORDER, error_correction=qrcode.constants.ERROR_CORRECT_M,
                         mask_pattern=2)
    code.add_data(data, optimize=0)  # one byte-mode segment: what base64url text gets anyway
    code.data_cache = _codewords(data, version)  # qrcode would compute the same, 10 times slower
    code.make(fit=False)
    matrix = code.get_matrix()
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    out = io.BytesIO()
    Image.frombytes("L", (size, size), pixels).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


@functools.cache
def _qr_version(n_bytes: int) -> int:
    """The smallest version holding `n_bytes` in byte mode at level M (qrcode's best_fit does the same by
    writing every bit of the data once more)."""
    import qrcode.constants
    import qrcode.util

    for version in range(1, 41):
        bits = 4 + qrcode.util.length_in_bits(qrcode.util.MODE_8BIT_BYTE, version) + 8 * n_bytes
        if bits <= qrcode.util.BIT_LIMIT_TABLE[qrcode.constants.ERROR_CORRECT_M][version]:
            return version
    raise ValueError(f"{n_bytes} bytes do not fit in a QR code")


def _codewords(data: bytes, version: int) -> list[int]:
    """What qrcode.util.create_data returns for one byte-mode segment at level M: the data codewords and
    their Reed-Solomon error correction, interleaved. Table-driven here, where qrcode builds polynomial
    objects bit by bit (60 % of its time to make a code). tests/ticketing/test_badges.py checks that both
    agree, byte for byte, for every length that fits."""
    from qrcode import base, constants, util

    blocks = base.rs_blocks(version, constants.ERROR_CORRECT_M)
    capacity = sum(block.data_count for block in blocks)
    count_bits = util.length_in_bits(util.MODE_8BIT_BYTE, version)
    n = len(data)
    length = 4 + count_bits + 8 * n
    if length > capacity * 8:
        raise ValueError(f"{n} bytes do not fit in a version {version} QR code")
    bits = ((util.MODE_8BIT_BYTE << count_bits | n) << 8 * n) | int.from_bytes(data, "big")
    terminator = min(capacity * 8 - length, 4)  # up to four 0 bits, then 0 bits to a whole byte
    end = terminator + (-(length + terminator) % 8)
    stream = list((bits << end).to_bytes((length + end) // 8, "big"))
    stream += ([0xEC, 0x11] * capacity)[:capacity - len(stream)]

    exp, log = base.EXP_TABLE, base.LOG_TABLE
    data_blocks, ec_blocks, offset = [], [], 0
    for block in blocks:
        ec_count = block.total_count - block.data_count
        generator = _rs_generator(ec_count)
        current = stream[offset:offset + block.data_count]
        offset += block.data_count
        remainder = [0] * ec_count
        for byte in current:
            factor = byte ^ remainder.pop(0)
            remainder.append(0)
            if factor:
                shift = log[factor]
                for j, g in enumerate(generator):
                    remainder[j] ^= exp[(g + shift) % 255]
        data_blocks.append(current)
        ec_blocks.append(remainder)
    out = []
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            out += [b[i] for b in group if i < len(b)]
    return out


@functools.cache
def _rs_generator(ec_count: int) -> tuple[int, ...]:
    """log of the coefficients after the leading 1 of prod(x - a^i, i < ec_count) over GF(256)."""
    from qrcode import base

    exp, log = base.EXP_TABLE, base.LOG_TABLE
    poly = [1]
    for i in range(ec_count):
        nxt = poly + [0]
        for j, c in enumerate(poly):
            if c:
                nxt[j + 1] ^= exp[(log[c] + i) % 255]
        poly = nxt
    return tuple(log[c] for c in poly[1:])


# --- HTML ------------------------------------------------------------------------------------------

def _geometry_css(layout: Layout) -> str:
    """The layout's page and boxes; typography and colours are in templates/pdf/badges.css."""
    (page_w, page_h), (card_w, card_h) = layout.page, layout.card

    def at(box: Box) -> str:
        return f"left:{box.x}mm;top:{box.y}mm;width:{box.w}mm;height:{box.h}mm"

    return (
        f"@page{{size:{page_w}mm {page_h}mm;margin:0;@bottom-center{{content:none}}}}"
        f".sheet{{width:{page_w}mm;height:{page_h}mm}}"
        f".badge{{width:{card_w}mm;height:{card_h}mm}}"
        f".band{{height:{layout.band_h}mm;line-height:{layout.band_h}mm;font-size:{layout.role_pt}pt}}"
        f".name{{{at(layout.name)}}}.no-qr .name{{{at(layout.name_wide)}}}"
        f".org{{{at(layout.org)}}}.no-qr .org{{{at(layout.org_wide)}}}"
        f".event{{{at(layout.title)}}}.qr{{{at(layout.qr)}}}"
    )


def _cut_marks(layout: Layout, n: int) -> str:
    """One SVG per sheet: a small cross at each corner of the filled cells (in the white space between
    cards) and guide ticks in the page margin. Nothing is drawn next to an empty cell."""
    if not layout.cut_marks or n == 0:
        return ""
    (cols, _rows), (cw, ch), (ox, oy) = layout.grid, layout.cell, layout.origin
    page_w, page_h = layout.page
    filled = [(i % cols, i // cols) for i in range(n)]
    arm = min(layout.inset - 0.5, 3)
    corners = {(ox + c * cw + dx * cw, oy + r * ch + dy * ch) for c, r in filled for dx in (0, 1) for dy in (0, 1)}
    path = [f"M{x - arm:.2f} {y:.2f}h{2 * arm:.2f}M{x:.2f} {y - arm:.2f}v{2 * arm:.2f}"
            for x, y in sorted(corners) if 0 < x < page_w and 0 < y < page_h]
    last_row, last_col = max(r for _, r in filled), max(c for c, _ in filled)
    top, bottom = oy, oy + (last_row + 1) * ch
    left, right = ox, ox + (last_col + 1) * cw

    def xs(row: int) -> list[float]:  # the vertical cut lines of the filled cells of a row
        return sorted({ox + (c + dx) * cw for c, r in filled if r == row for dx in (0, 1)})

    def ys(col: int) -> list[float]:
        return sorted({oy + (r + dy) * ch for c, r in filled if c == col for dy in (0, 1)})

    # Ticks along each cut line: in the page margin when it has room (from 1.5 mm off the grid, 5 mm
    # long), else inside the white inset of the cards at the page edge.
    out, length, inner = 1.5, 5.0, layout.inset - 1.5
    if oy >= out + length + 3:
        path += [f"M{x:.2f} {top - out:.2f}v{-length}" for x in xs(0)]
        path += [f"M{x:.2f} {bottom + out:.2f}v{length}" for x in xs(last_row)]
    else:
        path += [f"M{x:.2f} {top + 1:.2f}v{inner}" for x in xs(0) if 0 < x < page_w]
        path += [f"M{x:.2f} {bottom - 1:.2f}v{-inner}" for x in xs(last_row) if 0 < x < page_w]
    if ox >= out + length + 3:
        path += [f"M{left - out:.2f} {y:.2f}h{-length}" for y in ys(0)]
        path += [f"M{right + out:.2f} {y:.2f}h{length}" for y in ys(last_col)]
    else:
        path += [f"M{left + 1:.2f} {y:.2f}h{inner}" for y in ys(0) if 0 < y < page_h]
        path += [f"M{right - 1:.2f} {y:.2f}h{-inner}" for y in ys(last_col) if 0 < y < page_h]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="cut-marks" aria-hidden="true" viewBox="0 0 {page_w} {page_h}">'
            f'<path d="{"".join(path)}" fill="none" stroke="#1d1d1f" stroke-width="0.2"/></svg>')


def _fitted(text: str, box: Box, sizes: tuple[float, float], **options) -> str:
    """The inline style of a text box: its fitted font size, and a height cut to whole lines if needed."""
    size, clip = fit_pt(text, box, sizes, **options)
    return f"font-size:{size:g}pt" + (f";height:{clip:g}mm" if clip is not None else "")


def badges_html(badges: Sequence[BadgeData], layout: Layout | str = "sheet", *, with_qr: bool = True,
                title: str = "Badges") -> str:
    """The HTML of the badges on their sheets. `with_qr=False` leaves the QR area empty (benchmarks)."""
    layout = LAYOUTS[layout] if isinstance(layout, str) else layout
    cols = layout.grid[0]
    sheets = []
    for start in range(0, len(badges), layout.per_page):
        chunk = badges[start:start + layout.per_page]
        cards = []
        for i, badge in enumerate(chunk):
            has_qr = bool(badge.qr_payload)
            cards.append({
                "badge": badge,
                "x": round(layout.origin[0] + (i % cols) * layout.cell[0] + layout.inset, 2),
                "y": round(layout.origin[1] + (i // cols) * layout.cell[1] + layout.inset, 2),
                "has_qr": has_qr,
                "qr_src": qr_png_uri(badge.qr_payload) if has_qr and with_qr else "",
                "name": _fitted(badge.name, layout.name if has_qr else layout.name_wide, layout.name_pt,
                                weight=700, max_lines=3),
                "org": _fitted(badge.organisation, layout.org if has_qr else layout.org_wide, layout.org_pt,
                               max_lines=2),
                "title": _fitted(badge.event_title, layout.title, layout.title_pt, max_lines=2),
            })
        sheets.append({"cards": cards, "marks": _cut_marks(layout, len(chunk))})
    return _template().render(sheets=sheets, layout=layout, geometry=_geometry_css(layout), title=title)


@functools.cache
def _template():
    # Its own small environment, not denhub.web's: importing the web layer in a worker process would
    # also import denhub.accounts, whose argon2 hash at import costs 64 MB of memory for nothing here.
    import jinja2

    from denhub.pdf import PDF_TEMPLATES_DIR

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(PDF_TEMPLATES_DIR), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    return env.get_template("badges.html")


# --- rendering: in this process for small jobs, in parallel chunks for big ones ----------------------

Progress = Callable[[int, int], None]  # (badges done, badges in all)
CHUNK_SHEETS = 3  # measured: 2-4 sheets a chunk is fastest; more and WeasyPrint slows, fewer and overheads add up
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
            # loop, the denhub.pdf thread and database pools must not be copied mid-flight).
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                context.set_forkserver_preload(["denhub.badges", "weasyprint"])
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
    """In a worker process: one chunk of whole sheets through denhub.pdf."""
    return render_pdf_sync(badges_html(badges, layout_key, with_qr=with_qr, title=title), stylesheets=STYLESHEETS)


def _chunks(badges: Sequence[BadgeData], layout: Layout, chunk_sheets: int) -> list[list[BadgeData]]:
    size = layout.per_page * chunk_sheets
    return [list(badges[i:i + size]) for i in range(0, len(badges), size)]


def _merge(parts: list[bytes], title: str) -> bytes:
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    writer.add_metadata({"/Title": title, "/Creator": "denhub"})
    writer._root_object[NameObject("/Lang")] = TextStringObject("en-GB")
    out = io.BytesIO()
    writer.write(out)
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
    futures = [_get_pool().submit(_render_chunk, chunk, plan.layout.key, with_qr, title) for chunk in plan.chunks]
    done = 0
    try:
        for future, chunk in zip(futures, plan.chunks, strict=True):  # in order: progress is monotonic
            _result(future)
            done += len(chunk)
            if progress:
                progress(done, total)
    finally:
        for future in futures:
            future.cancel()
    return _merge([future.result() for future in futures], title)


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
    done = 0
    try:
        for future, chunk in zip(futures, plan.chunks, strict=True):
            try:
                await asyncio.wrap_future(future)
            except BrokenProcessPool:
                pass  # _result says so
            _result(future)
            done += len(chunk)
            if progress:
                progress(done, total)
    finally:
        for future in futures:  # the request went away: do not render what nobody will download
            future.cancel()
    return await asyncio.to_thread(_merge, [future.result() for future in futures], title)


def filename(stem: str, layout: Layout | str) -> str:
    import re

    key = layout if isinstance(layout, str) else layout.key
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:80] or "event"
    return f"badges-{safe}-{key}.pdf"
