"""Names in every local script (Bengali, Gurmukhi, Urdu, Devanagari, Arabic, Latin) print shaped, from our
vendored Noto fonts, with no missing glyph: on a badge sheet and on PDF tickets; and the attendee list marks
each name's direction so that an Urdu or Arabic name reads right to left inside an English page."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess

from fontTools.ttLib import TTFont
from pypdf import PdfReader

from kernel.badges import BadgeData, render_badges
from kernel.pdf import render_pdf
from tests.core.helpers import sign_in
from tests.factories import make_event
from tests.files import need, pdf_pages, write_pdf
from tests.ticketing.factories import make_order, make_ticket_type
from tests.ticketing.test_documents import (
    embedded_font_family,
    letters,
    make_doc,
    missing_glyphs,
    page_fonts,
    shown_glyphs,
)
from tests.ticketing.test_door_http import _book, _door_staff, _event_with_types, _scanner_csrf
from ticketing.documents import ticket_pdf
from ticketing.models import Order

# script -> (a name, the Noto family that must draw it)
NAMES = {
    "bengali": ("রহিম উদ্দিন", "Noto Sans Bengali"),
    "gurmukhi": ("ਹਰਪ੍ਰੀਤ ਕੌਰ", "Noto Sans Gurmukhi"),
    "urdu": ("عائشہ خان", "Noto Naskh Arabic"),
    "devanagari": ("प्रिया शर्मा", "Noto Sans Devanagari"),
    "arabic": ("ليلى حسن", "Noto Naskh Arabic"),
    "latin": ("Łukasz Wiśniewski", "Noto Sans"),
}
SCRIPT_FAMILIES = {family for _, family in NAMES.values()}


def script_fonts(pdf: bytes, stem: str) -> str:
    """Check a PDF holding the names above; returns poppler's text of it.

    Every font is embedded and is one of ours, each script's Noto family is among them, no glyph is
    .notdef, and each complex script is shaped: its font draws glyphs that no single letter maps to
    (conjuncts, subjoined forms, reph, joining forms), which only happens when HarfBuzz shaped the text."""
    reader = PdfReader(io.BytesIO(pdf))
    families: set[str] = set()
    drawn: dict[str, set[int]] = {}
    for page in reader.pages:
        assert missing_glyphs(reader, page) == []
        fonts = page_fonts(page)
        for name, gid in shown_glyphs(reader, page):
            drawn.setdefault(embedded_font_family(fonts[name]), set()).add(gid)
        families |= {embedded_font_family(font) for font in fonts.values()}
    assert SCRIPT_FAMILIES <= families, families

    path = write_pdf(pdf, stem)
    listing = subprocess.run([need("pdffonts"), str(path)], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    assert all(row[0].split("+", 1)[1].startswith("Denhub-") for row in rows), listing  # no system font
    assert all(row[-5] == "yes" for row in rows), listing  # every font embedded

    for name, family in NAMES.values():
        if family == "Noto Sans":
            continue
        font = _font_program(reader, family)
        plain = {font.getGlyphID(font.getBestCmap()[ord(c)]) for c in name if ord(c) in font.getBestCmap()}
        assert drawn[family] - plain, f"{name}: {family} drew its letters one by one, unshaped"
    return subprocess.run([need("pdftotext"), str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def _font_program(reader: PdfReader, family: str) -> TTFont:
    for page in reader.pages:
        for font in page_fonts(page).values():
            if embedded_font_family(font) == family:
                descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
                return TTFont(io.BytesIO(descriptor["/FontFile2"].get_object().get_data()))
    raise AssertionError(f"{family} is not embedded")


def assert_names_in_text(text: str) -> None:
    """What text extraction reliably gives back: Latin and Gurmukhi whole; Bengali and Devanagari base
    letters in order (extraction cannot undo vowel-sign and reph reordering). Arabic script comes out of
    poppler in visual pieces, so Urdu and Arabic are checked by their fonts and glyphs above."""
    flat = "".join(text.split())
    for script in ("latin", "gurmukhi"):
        assert "".join(NAMES[script][0].split()) in flat, script
    for script in ("bengali", "devanagari"):
        assert letters(NAMES[script][0]) in letters(text), script


def test_a_badge_sheet_mixing_every_script_prints_every_glyph():
    badges = [BadgeData(name, "Handsworth Community Kitchen", "attendee", "Vaisakhi Mela")
              for name, _ in NAMES.values()]
    pdf = render_badges(badges, "sheet", parallel=False)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert_names_in_text(script_fonts(pdf, "badges-scripts"))
    pdf_pages(pdf, "badges-scripts", dpi=100)  # kept in tests/artifacts/ to look at


def test_pdf_tickets_print_names_in_every_script():
    docs = [make_doc(f"SCRIPT{i:04d}", name) for i, (name, _) in enumerate(NAMES.values())]
    _, _, pdf = asyncio.run(ticket_pdf(docs, filename_stem="scripts"))
    assert len(PdfReader(io.BytesIO(pdf)).pages) == len(NAMES)
    assert_names_in_text(script_fonts(pdf, "tickets-scripts"))


async def test_text_marked_urdu_prints_in_nastaliq():
    pdf = await render_pdf('<!doctype html><html lang="en-GB"><p>Attendee: <span lang="ur">عائشہ خان</span></p>'
                           '<p>Attendee: ليلى حسن</p></html>')
    reader = PdfReader(io.BytesIO(pdf))
    families = {embedded_font_family(font) for font in page_fonts(reader.pages[0]).values()}
    assert families == {"Noto Sans", "Noto Nastaliq Urdu", "Noto Naskh Arabic"}
    assert missing_glyphs(reader, reader.pages[0]) == []


async def test_attendee_list_marks_each_name_with_its_own_direction(client, db):
    async with db.write() as session:
        event = await make_event(session, title="Vaisakhi Mela")
        adult = await make_ticket_type(session, event, name="Adult", capacity=20)
        await make_order(session, event, [(adult.id, name) for name, _ in NAMES.values()])
    await sign_in(client, db)
    page = await client.get(f"/organiser/events/{event.id}/attendees")
    assert page.status_code == 200
    cells = re.findall(r'<th scope="row"([^>]*)>([^<]*)<br>', page.text)
    assert sorted(name for _, name in cells) == sorted(name for name, _ in NAMES.values())
    assert all('dir="auto"' in attributes for attributes, _ in cells)



async def test_door_matches_and_verdict_mark_each_name_with_its_own_direction(client, db):
    event, free, _ = await _event_with_types(db)
    urdu, arabic = NAMES["urdu"][0], NAMES["arabic"][0]
    [_, (aisha, _), _] = await _book(db, event, free, ["Ann Lee", urdu, arabic])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    # The no-JavaScript page: a booking reference lists its names, then a ticket's verdict names its holder.
    async with db.read() as session:
        reference = (await session.get(Order, aisha.order_id)).reference
    found = await client.post(f"/door/events/{event.id}/scan", data={"text": reference, "csrf_token": csrf})
    for name in (urdu, arabic):
        assert f'<span class="door-match-name" dir="auto">{name}</span>' in found.text
    admitted = await client.post(f"/door/events/{event.id}/scan",
                                 data={"ticket_id": str(aisha.id), "csrf_token": csrf})
    assert f'<p class="verdict-name" dir="auto">{urdu}</p>' in admitted.text
