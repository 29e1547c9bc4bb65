"""QR codes for badges: a PNG of one pixel per module, scaled up in print with `image-rendering: pixelated`.

Why not kernel.qr: on a sheet of badges the codes are most of the work. Measured for 500 badges:
- an inline SVG path per code (kernel.qr.qr_svg, or a run-length path) costs WeasyPrint about 8 times
  the text of the badges; a tiny greyscale PNG is embedded as it is and costs little more than a line of
  text, and prints just as sharp;
- qrcode with its defaults takes 17 ms a code: 12 ms searching the best of 8 mask patterns and 1 ms
  writing every bit once more to choose the version. Here, through qrcode's public API only: one fixed
  mask (the payload is base64 of JSON and a signature, as good as random, so any mask scans as well) and
  the version looked up by payload length (the same for every badge of a print run): about 2 ms a code,
  most of it qrcode's own Reed-Solomon and module placement. segno's public API measured slower (2.6 ms).
Same error correction level (M) as kernel.qr. Codes are cached by payload: printing again is quicker.
"""

from __future__ import annotations

import base64
import functools
import struct
import zlib

QR_BORDER = 2  # modules of quiet zone inside the image; the card's white space adds more
_MASK = 2  # any fixed mask: see above
_PIXELS = bytes.maketrans(b"\x00\x01", b"\xff\x00")  # light module -> white, dark -> black


@functools.lru_cache(maxsize=4096)
def qr_png_uri(payload: str) -> str:
    """A data: URI of a greyscale PNG with one pixel per module (error correction M, as kernel.qr).

    Greyscale because WeasyPrint embeds an "L" PNG as it is, where it converts a 1-bit one to RGB and
    compresses it again."""
    import qrcode
    import qrcode.constants

    data = payload.encode("utf-8")
    code = qrcode.QRCode(version=_qr_version(len(data)), border=QR_BORDER,
                         error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=_MASK)
    code.add_data(_byte_segment(data))
    code.make(fit=False)
    return "data:image/png;base64," + base64.b64encode(_grey_png(code.get_matrix())).decode("ascii")


@functools.cache
def _qr_version(n_bytes: int) -> int:
    """The smallest version holding `n_bytes` in one byte-mode segment at level M: it depends on the length
    alone, so qrcode's fit (which writes every bit of the data once more) runs once per length."""
    import qrcode
    import qrcode.constants
    import qrcode.exceptions

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=_MASK)
    code.add_data(_byte_segment(b"a" * n_bytes))
    try:
        code.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError):  # past version 40 qrcode says ValueError
        raise ValueError(f"{n_bytes} bytes do not fit in a QR code") from None
    return code.version


def _byte_segment(data: bytes):
    """`data` as one byte-mode segment, whatever characters it holds (what base64url text gets anyway), so
    that the version depends on the length alone."""
    import qrcode.util

    return qrcode.util.QRData(data, mode=qrcode.util.MODE_8BIT_BYTE)


def _grey_png(matrix: list[list[bool]]) -> bytes:
    """An 8-bit greyscale PNG of a square of modules, one pixel each (dark True -> black). Written here with
    zlib because Pillow's encoder (adaptive filters, plugin machinery) took a quarter of a code's time and
    made larger files."""
    size = len(matrix)
    raw = b"".join(b"\x00" + bytes(row).translate(_PIXELS) for row in matrix)  # filter type 0 on each row
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8 bits, greyscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
