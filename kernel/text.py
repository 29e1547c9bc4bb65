"""Text that goes where a line break or a control character does harm: one-line fields, CSV cells, file names.

A title is one line wherever it goes: an email's Subject header (a line break there made every booking for
the event fail), a PDF, a calendar file, a CSV cell. Forms normalise their one-line fields with one_line()
when they are parsed; the places that write headers, cells and file names use these helpers again, so a
value that came in some other way (an old row, a CLI, a demo) does no harm either.
"""

from __future__ import annotations

import re
import unicodedata

# Control characters (C0, DEL, C1: NEL among them) and the Unicode line and paragraph separators.
_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s{2,}")
# What a spreadsheet may read as the start of a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def one_line(value: str | None, limit: int | None = None) -> str:
    """`value` on one line: control characters and line breaks become a space, runs of spaces one space,
    no space at either end; cut to `limit` characters when given."""
    if not value:
        return ""
    text = _SPACES.sub(" ", _BREAKING.sub(" ", str(value))).strip()
    return text[:limit].rstrip() if limit is not None else text


def has_control_characters(value: str) -> bool:
    """True if one_line() would change more than the spaces of `value`."""
    return bool(_BREAKING.search(value))


def csv_cell(value: object) -> object:
    """A value safe in a CSV cell a spreadsheet opens: text starting like a formula gets a leading apostrophe
    (shown as text, never run). Numbers and other values are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A Content-Disposition header value for `filename`: an ASCII fallback name without quotes, slashes or
    control characters, and the full name as RFC 6266 / RFC 5987 filename* when it is not plain ASCII."""
    from urllib.parse import quote

    name = one_line(filename).replace("/", "-").replace("\\", "-") or "download"
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r'[^A-Za-z0-9._ -]+', "", fallback).strip(" .") or "download"
    header = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header
