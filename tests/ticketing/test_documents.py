"""PDF tickets: text, fonts (Bengali shaped by our vendored Noto Sans Bengali) and QR codes that scan."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from pypdf.generic import ContentStream

from kernel.pdf import render_pdf, render_pdf_sync
from kernel.settings import PROJECT_ROOT
from tests.files import need, pdf_pages, write_pdf
from ticketing.documents import TicketDoc, ticket_html, ticket_pdf, when_label
from ticketing.signing import generate_keypair, initials, sign_ticket, verify_ticket

EVENT_TITLE = "বাংলা মাস: Bangla Month celebration"
ENGLISH_NAME = "Eleanor Whitfield-Okafor"
BENGALI_NAME = "সুমাইয়া বেগম"
KEYS = generate_keypair()


def make_doc(code: str, name: str, *, status: str = "valid", event_id: int = 12) -> TicketDoc:
    return TicketDoc(
        code=code,
        attendee_name=name,
        ticket_type_name="Standard entry",
        tier_label="Pay what you can: supporter",
        price_label="£5.00",
        event_title=EVENT_TITLE,
        starts_at=dt.datetime(2025, 4, 12, 17, 0, tzinfo=dt.UTC),  # 18:00 in London (BST)
        ends_at=dt.datetime(2025, 4, 12, 20, 30, tzinfo=dt.UTC),
        venue_name="Soho House",
        venue_address="Soho Avenue, Handsworth, Birmingham B18 5LB",
        order_ref="ORD-7F3K2",
        qr_payload=sign_ticket(KEYS[0], ticket_code=code, event_id=event_id, ticket_type_id=3,
                               initials=initials(name)),
        status=status,
    )


TICKETS = [make_doc("K7QX2M9R4T", ENGLISH_NAME), make_doc("B2M8C4XZ9Q", BENGALI_NAME)]


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


WEASYPRINT_WARNINGS = Collect()


@pytest.fixture(scope="module")
def rendered() -> tuple[str, str, bytes]:
    """The two-ticket PDF, with WeasyPrint's warnings (missing glyphs, unloadable fonts or images) kept."""
    logger = logging.getLogger("weasyprint")
    logger.addHandler(WEASYPRINT_WARNINGS)
    try:
        result = asyncio.run(ticket_pdf(TICKETS, filename_stem="bangla month/tickets"))
    finally:
        logger.removeHandler(WEASYPRINT_WARNINGS)
    return result


@pytest.fixture(scope="module")
def reader(rendered) -> PdfReader:
    return PdfReader(io.BytesIO(rendered[2]))


def letters(text: str) -> str:
    """Base letters only: PDF text extraction cannot undo Bengali vowel-sign reordering, but the
    consonants and independent vowels come out in order when every glyph was found."""
    return "".join(c for c in unicodedata.normalize("NFC", text) if unicodedata.category(c) == "Lo")


def page_fonts(page) -> dict:
    """{resource name: font dict} for a page and the form XObjects it draws."""
    fonts = {}

    def walk(resources):
        resources = resources.get_object() if resources is not None else {}
        for name, font in (resources.get("/Font") or {}).items():
            fonts[name] = font.get_object()
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources"))

    walk(page.get("/Resources"))
    return fonts


def embedded_font_family(font) -> str:
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    program = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
    assert program is not None, f"{font['/BaseFont']} is not embedded"
    return TTFont(io.BytesIO(program.get_object().get_data()))["name"].getDebugName(1)


def shown_glyphs(reader: PdfReader, page) -> list[tuple[str, int]]:
    """(font resource, glyph id) for every glyph drawn by Tj / TJ on the page and its form XObjects."""
    glyphs: list[tuple[str, int]] = []

    def walk(owner, contents):
        font = ""
        for operands, operator in ContentStream(contents, reader).operations:
            if operator == b"Tf":
                font = str(operands[0])
            strings = []
            if operator == b"Tj":
                strings = [operands[0]]
            elif operator == b"TJ":
                strings = [item for item in operands[0] if hasattr(item, "original_bytes")]
            for string in strings:
                raw = string.original_bytes  # Identity-H: two bytes per glyph id
                glyphs.extend((font, int.from_bytes(raw[i:i + 2], "big")) for i in range(0, len(raw), 2))
            if operator == b"Do":
                xobject = owner["/Resources"]["/XObject"][operands[0]].get_object()
                if xobject.get("/Subtype") == "/Form":
                    walk(xobject, xobject)

    walk(page, page.get_contents())
    return glyphs


def missing_glyphs(reader: PdfReader, page) -> list[tuple[str, int]]:
    """Glyphs no font could draw. WeasyPrint draws them as .notdef: glyph 0, or an id past the end of
    the embedded font (remapped to 0 by a CIDToGIDMap) so that text extraction still works."""
    fonts = page_fonts(page)
    counts = {}
    for name, font in fonts.items():
        descendant = font["/DescendantFonts"][0].get_object()
        program = descendant["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
        counts[name] = TTFont(io.BytesIO(program))["maxp"].numGlyphs
    return [(font, gid) for font, gid in shown_glyphs(reader, page) if gid == 0 or gid >= counts[font]]


# --- the provider tuple and the text -----------------------------------------------------------------

def test_ticket_pdf_returns_filename_mimetype_and_pdf(rendered):
    filename, mimetype, pdf = rendered
    assert filename == "bangla-month-tickets.pdf"
    assert mimetype == "application/pdf"
    assert pdf.startswith(b"%PDF-")


def test_one_page_per_ticket_with_everything_the_door_needs(reader):
    assert len(reader.pages) == 2
    first, second = (page.extract_text() for page in reader.pages)
    for text in (first, second):
        assert "বাংলা মাস" in text and "Bangla Month celebration" in text
        assert "Saturday 12 April 2025, 18:00 – 21:30" in text  # Europe/London, BST
        assert "Soho House" in text and "Birmingham B18 5LB" in text
        assert "Standard entry" in text and "Pay what you can: supporter" in text
        assert "£5.00" in text and "ORD-7F3K2" in text
        assert "Admit one".upper() in text.upper()
    assert ENGLISH_NAME in first and "K7QX2M9R4T" in first and "B2M8C4XZ9Q" not in first
    assert "B2M8C4XZ9Q" in second
    assert letters(BENGALI_NAME) in letters(second)
    assert reader.metadata.title == f"Tickets: {EVENT_TITLE}"


def test_bengali_is_drawn_with_the_vendored_noto_sans_bengali_and_no_glyph_is_missing(reader):
    second = reader.pages[1]
    fonts = page_fonts(second)
    families = {
        str(font["/BaseFont"]).split("+", 1)[-1]: embedded_font_family(font) for font in fonts.values()
    }
    # Our @font-face families (static/css/fonts.css), not a system font that happens to be installed
    assert families.get("Denhub-Bengali-Bold") == "Noto Sans Bengali"
    assert families.get("Denhub-Sans-Bold") == "Noto Sans"
    assert all(name.startswith("Denhub-") for name in families), families
    assert len(shown_glyphs(reader, second)) > 100
    assert missing_glyphs(reader, second) == []


def test_weasyprint_had_nothing_to_warn_about(rendered):
    assert WEASYPRINT_WARNINGS.messages == []


def test_missing_glyph_check_catches_tofu():
    """The check above is not vacuous: an unassigned code point has no glyph in any font."""
    pdf = render_pdf_sync("<p>abc \u0378 বাংলা</p>")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(missing_glyphs(reader, reader.pages[0])) == 1


def test_pdffonts_lists_every_font_embedded(rendered):
    pdffonts = need("pdffonts")
    path = write_pdf(rendered[2], "tickets")
    out = subprocess.run([pdffonts, str(path)], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    assert any("Denhub-Bengali" in row[0] for row in rows), out
    for row in rows:
        emb = row[-5]  # columns: name type... encoding emb sub uni object ID
        assert emb == "yes", out


# --- the QR codes ------------------------------------------------------------------------------------

def test_qr_codes_scan_from_a_150_dpi_render_and_verify(rendered):
    import zxingcpp
    from PIL import Image

    pages = pdf_pages(rendered[2], "tickets", dpi=150)
    assert len(pages) == 2
    for png, ticket in zip(pages, TICKETS, strict=True):
        results = [
            r for r in zxingcpp.read_barcodes(Image.open(png)) if r.format == zxingcpp.BarcodeFormat.QRCode
        ]
        assert len(results) == 1, png
        claims = verify_ticket(KEYS[1], results[0].text)
        assert claims.ticket_code == ticket.code
        assert claims.event_id == 12 and claims.initials == initials(ticket.attendee_name)
        # at least 45 mm wide on paper (the symbol, quiet zone not counted)
        pos = results[0].position
        width_px = max(p.x for p in (pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right)) - min(
            p.x for p in (pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right))
        assert width_px / 150 * 25.4 >= 45, f"QR only {width_px / 150 * 25.4:.0f} mm wide"


def test_cancelled_ticket_is_marked_and_has_no_qr():
    import zxingcpp
    from PIL import Image

    _, _, pdf = asyncio.run(ticket_pdf([make_doc("Z9Z9Z9Z9Z9", "রহিম উদ্দিন", status="cancelled")]))
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "CANCELLED" in text and "will not be accepted" in text and "Z9Z9Z9Z9Z9" in text
    assert "রহিম উদ্দিন" in text
    [page] = pdf_pages(pdf, "ticket-cancelled", dpi=100)
    image = Image.open(page)
    assert zxingcpp.read_barcodes(image) == []


async def test_long_names_titles_and_addresses_still_fit_one_page_each():
    import dataclasses

    long = dataclasses.replace(
        make_doc("K7QX2M9R4T", "মোহাম্মদ আব্দুল করিম উদ্দিন চৌধুরী Muhammad Abdul-Kareem Uddin Chowdhury-Rahman"),
        event_title="বাংলা মাস ২০২৫: নববর্ষের উৎসব, সঙ্গীত, নৃত্য ও খাবার — Bangla Month 2025: New Year festival "
                    "of music, dance and food at Soho House",
        venue_address="Soho House Museum, Soho Avenue, Handsworth, Birmingham, West Midlands, B18 5LB, "
                      "United Kingdom (entrance by the garden gate on Soho Avenue)",
        ticket_type_name="Family ticket (2 adults + up to 3 children under 16)",
        tier_label="Solidarity price: for people on Universal Credit or low income",
    )
    _, _, pdf = await ticket_pdf([long, TICKETS[1], long])
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 3


def test_template_escapes_what_attendees_type():
    html = ticket_html([make_doc("K7QX2M9R4T", '<script>alert("x")</script> & Co')])
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; Co" in html
    assert html.count("<svg") == 1


# --- dates -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("starts", "ends", "expected"), [
    (dt.datetime(2025, 4, 12, 17, 0, tzinfo=dt.UTC), dt.datetime(2025, 4, 12, 20, 30, tzinfo=dt.UTC),
     "Saturday 12 April 2025, 18:00 – 21:30"),
    (dt.datetime(2025, 1, 18, 17, 0, tzinfo=dt.UTC), None, "Saturday 18 January 2025, 17:00"),  # GMT
    (dt.datetime(2025, 1, 18, 17, 0), None, "Saturday 18 January 2025, 17:00"),  # naive = UTC
    (dt.datetime(2025, 6, 21, 20, 0, tzinfo=dt.UTC), dt.datetime(2025, 6, 22, 1, 0, tzinfo=dt.UTC),
     "Sat 21 Jun 2025, 21:00 – Sun 22 Jun 2025, 02:00"),
])
def test_when_label_is_london_time(starts, ends, expected):
    assert when_label(starts, ends) == expected


# --- the shared renderer -----------------------------------------------------------------------------

def test_pdfs_only_fetch_static_files_and_data_uris(tmp_path):
    from kernel.qr import qr_data_uri

    outside = tmp_path / "secret.png"
    outside.write_bytes(Path(PROJECT_ROOT / "static" / "fonts" / "OFL.txt").read_bytes())
    html = (
        f'<img src="{outside.as_uri()}"><img src="file:///etc/passwd"><img src="http://127.0.0.1:9/x.png">'
        f'<img src="../pyproject.toml"><img src="{qr_data_uri("hello")}">'
    )
    pdf = render_pdf_sync(html)
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    xobjects = page["/Resources"].get("/XObject", {}).values()
    images = [x for x in xobjects if x.get_object()["/Subtype"] == "/Image"]
    assert len(images) == 1  # only the data: URI


async def test_concurrent_renders_queue_up_and_all_succeed():
    pdfs = await asyncio.gather(*(render_pdf(f"<p>ticket {i} সুমাইয়া</p>") for i in range(4)))
    texts = [PdfReader(io.BytesIO(pdf)).pages[0].extract_text() for pdf in pdfs]
    assert [f"ticket {i}" in text for i, text in enumerate(texts)] == [True] * 4


def test_unknown_stylesheet_is_refused():
    from kernel.pdf import PdfError

    with pytest.raises(PdfError):
        render_pdf_sync("<p>x</p>", stylesheets=("../../pyproject.toml",))


def test_vendored_fonts_alone_render_the_ticket(tmp_path):
    """With fontconfig given no system fonts at all, the ticket still embeds and shapes our fonts:
    the PDF looks the same on a bare server as here."""
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">'
        f"<fontconfig><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    out = tmp_path / "bare.pdf"
    script = (
        "import asyncio, sys\n"
        "from tests.ticketing.test_documents import TICKETS\n"
        "from ticketing.documents import ticket_pdf\n"
        "open(sys.argv[1], 'wb').write(asyncio.run(ticket_pdf(TICKETS))[2])\n"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "PYTHONWARNINGS": "ignore"}
    subprocess.run(
        [sys.executable, "-c", script, str(out)], check=True, cwd=PROJECT_ROOT, env=env, timeout=120
    )
    reader = PdfReader(str(out))
    second = reader.pages[1]
    families = {embedded_font_family(font) for font in page_fonts(second).values()}
    assert families == {"Noto Sans", "Noto Sans Bengali"}
    assert missing_glyphs(reader, second) == []
    assert letters(BENGALI_NAME) in letters(second.extract_text())
