"""What goes on a badge, where it goes on the page, and how big its text is.

WeasyPrint has no fit-text: font sizes are chosen here from the vendored fonts' own advance widths, so a
200-character name prints smaller instead of running off its badge. Every text box also has a fixed size
and hides its overflow, as a last resort, cut between two lines.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from kernel.settings import PROJECT_ROOT

PDF_MIMETYPE = "application/pdf"
STYLESHEETS = ("badges.css",)  # in templates/pdf/, after kernel.pdf's shared ones
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
    label: str = ""  # the words in the band, as the role's provider names it (kernel.hooks.BadgeRole.label)

    @property
    def role_label(self) -> str:
        return self.label or ROLE_LABELS.get(self.role) or self.role.replace("_", " ").strip().capitalize() or "Guest"


def alphabetical(badges: list[BadgeData]) -> list[BadgeData]:
    """Badges A to Z by name, then organisation, so that the badge table at the door can be laid out A to Z."""
    return sorted(badges, key=lambda b: (b.name.casefold(), b.organisation.casefold()))


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


# --- fitting text to its box -----------------------------------------------------------------------

_FONT_FILES = {
    weight: (f"noto-sans-latin-{weight}-normal", f"noto-sans-latin-ext-{weight}-normal",
             f"noto-sans-bengali-bengali-{weight}-normal", f"noto-sans-gurmukhi-gurmukhi-{weight}-normal",
             f"noto-sans-devanagari-devanagari-{weight}-normal", f"noto-naskh-arabic-arabic-{weight}-normal")
    for weight in (400, 700)
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



# --- HTML -------------------------------------------------------------------------------------------

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
    corners = {(ox + (c + dx) * cw, oy + (r + dy) * ch) for c, r in filled for dx in (0, 1) for dy in (0, 1)}
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
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="cut-marks" aria-hidden="true" '
            f'viewBox="0 0 {page_w} {page_h}">'
            f'<path d="{"".join(path)}" fill="none" stroke="#1d1d1f" stroke-width="0.2"/></svg>')


def _fitted(text: str, box: Box, sizes: tuple[float, float], **options) -> str:
    """The inline style of a text box: its fitted font size, and a height cut to whole lines if needed."""
    size, clip = fit_pt(text, box, sizes, **options)
    return f"font-size:{size:g}pt" + (f";height:{clip:g}mm" if clip is not None else "")


def badges_html(badges: Sequence[BadgeData], layout: Layout | str = "sheet", *, with_qr: bool = True,
                title: str = "Badges") -> str:
    """The HTML of the badges on their sheets. `with_qr=False` leaves the QR area empty (benchmarks)."""
    from kernel.badges.qr import qr_png_uri

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
    # Its own small environment, not kernel.web's: importing the web layer in a worker process would
    # also import kernel.accounts, whose argon2 hash at import costs 64 MB of memory for nothing here.
    import jinja2

    from kernel.pdf import PDF_TEMPLATES_DIR

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(PDF_TEMPLATES_DIR), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    return env.get_template("badges.html")



def filename(stem: str, layout: Layout | str) -> str:
    """badges-<event slug>-<layout>.pdf, safe in a Content-Disposition header."""
    key = layout if isinstance(layout, str) else layout.key
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:80] or "event"
    return f"badges-{safe}-{key}.pdf"