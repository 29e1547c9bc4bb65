"""Name badges: what goes on one (BadgeData), the layouts, names that shrink to fit, QR codes, the PDF.

Pure: callers (ticketing.badges, the CLI) find the people; nothing here touches the database.

  layout.py   BadgeData, roles, the three layouts, fitting text to boxes, the HTML of the sheets
  qr.py       QR codes as small PNGs, made fast and cached
  render.py   the PDF: small jobs in this process, big ones in chunks on worker processes, merged

Every page goes through kernel.pdf, the one way documents become PDFs.
"""

from kernel.badges.layout import (
    LAYOUTS,
    PDF_MIMETYPE,
    ROLE_LABELS,
    BadgeData,
    Box,
    Layout,
    NothingToPrint,
    alphabetical,
    badges_html,
    filename,
    fit_pt,
    page_count,
    text_em,
)
from kernel.badges.qr import qr_png_uri
from kernel.badges.render import render_badges, render_badges_async

__all__ = [
    "LAYOUTS",
    "PDF_MIMETYPE",
    "ROLE_LABELS",
    "BadgeData",
    "Box",
    "Layout",
    "NothingToPrint",
    "alphabetical",
    "badges_html",
    "filename",
    "fit_pt",
    "page_count",
    "qr_png_uri",
    "render_badges",
    "render_badges_async",
    "text_em",
]
