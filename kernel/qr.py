"""QR codes for tickets: inline SVG for pages and PDFs, PNG for emails and downloads.

Error correction M (15 %): a signed ticket payload of ~150 characters fits version 8 (49 modules), which
scans from paper or a phone screen at 45 mm and more.
"""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathFillImage

_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M


def _qr(data: str | bytes, *, box_size: int, border: int) -> qrcode.QRCode:
    if border < 0 or box_size < 1:
        raise ValueError("border must be >= 0 and box_size >= 1")
    code = qrcode.QRCode(error_correction=_ERROR_CORRECTION, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_svg(data: str | bytes, *, border: int = 2) -> str:
    """An inline <svg> element (no XML declaration) drawing `data` as one path on a white square.

    It has a viewBox and a default size in mm; set width and height in CSS to scale it."""
    image = _qr(data, box_size=10, border=border).make_image(image_factory=SvgPathFillImage)
    svg = image.to_string(encoding="unicode")
    # Several codes may share one page: an id repeated in one HTML document is invalid.
    svg = svg.replace(' id="qr-path"', "", 1)
    return svg.replace("<svg ", '<svg role="img" aria-label="QR code" shape-rendering="crispEdges" ', 1)


def qr_png(data: str | bytes, *, box_size: int = 10, border: int = 4) -> bytes:
    """A black-on-white PNG, `box_size` pixels per module, with a quiet zone of `border` modules."""
    image = _qr(data, box_size=box_size, border=border).make_image(image_factory=PilImage)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def qr_data_uri(data: str | bytes, fmt: str = "png") -> str:
    """A data: URI of the QR code, for <img src> in emails or PDFs."""
    if fmt == "png":
        return "data:image/png;base64," + base64.b64encode(qr_png(data)).decode("ascii")
    if fmt == "svg":
        svg = qr_svg(data, border=4)
        if "xmlns=" not in svg:  # a standalone SVG document needs its namespace
            svg = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
        return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    raise ValueError(f"fmt must be 'png' or 'svg', not {fmt!r}")
