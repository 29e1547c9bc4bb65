"""QR codes for badges: a PNG of one pixel per module, scaled up in print with `image-rendering: pixelated`.

Why not kernel.qr: on a sheet of badges the codes are most of the work. Measured for 500 badges:
- an inline SVG path per code (kernel.qr.qr_svg, or a run-length path) costs WeasyPrint about 8 times
  the text of the badges; a tiny greyscale PNG is embedded as it is and costs little more than a line of
  text, and prints just as sharp;
- qrcode with its defaults takes 17 ms a code: 12 ms searching the best of 8 mask patterns, most of the
  rest writing the bits twice (once to choose the version) and Reed-Solomon with polynomial objects.
  Here: one fixed mask (the payload is base64 of JSON and a signature, as good as random, so any mask
  scans as well), the version from the length, and table-driven error correction: 1.3 ms a code.
Same error correction level (M) as kernel.qr. Codes are cached by payload: printing again is quicker.
"""

from __future__ import annotations

import base64
import functools
import io

QR_BORDER = 2  # modules of quiet zone inside the image; the card's white space adds more


@functools.lru_cache(maxsize=4096)
def qr_png_uri(payload: str) -> str:
    """A data: URI of a greyscale PNG with one pixel per module (error correction M, as kernel.qr).

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

