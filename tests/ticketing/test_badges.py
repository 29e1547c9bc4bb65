"""Name badges: who gets one, the three layouts, names that shrink to fit, QR codes that scan and verify,
Bengali shaped by our vendored font, the organiser pages (organisers only) and `denhub badges`."""

from __future__ import annotations

import html
import io
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from kernel.accounts import Role
from kernel.badges import (
    LAYOUTS,
    BadgeData,
    Box,
    NothingToPrint,
    badges_html,
    fit_pt,
    render_badges,
    render_badges_async,
)
from tests.conftest import TEST_SECRET
from tests.core.helpers import new_client, sign_in
from tests.factories import make_event, make_user
from tests.files import need, pdf_pages, write_pdf
from tests.ticketing.factories import make_order, make_ticket_type
from tests.ticketing.test_documents import embedded_font_family, letters, missing_glyphs, page_fonts
from ticketing import services
from ticketing.badges import event_badges
from ticketing.models import DoorAssignment, EventKey
from ticketing.signing import generate_keypair, initials, sign_ticket, verify_ticket

EVENT_TITLE = "বাংলা মাস: Bangla Month celebration"
EVENT_ID = 12
KEYS = generate_keypair()
BENGALI_NAMES = ["সুমাইয়া বেগম", "মোহাম্মদ আব্দুল করিম", "রহিম উদ্দিন"]
LATIN_NAMES = ["Eleanor Whitfield-Okafor", "Ann Lee", "Zoë Brontë", "Łukasz Wiśniewski", "Priya Patel",
               "Grace O'Neill", "Tomás Ó Súilleabháin", "Yusuf Khatun", "Amina Begum", "Oluwaseun Adeyemi",
               "Siobhan McAllister", "Bartholomew Fitzwilliam", "Chen Jing", "Fatima Hussain"]
LONG_NAME = ("Anneliese Bartholomew-Fitzwilliam de la Cruz " * 5)[:200]
MM = 25.4


def attendee(i: int, name: str, organisation: str = "Handsworth Community Kitchen") -> BadgeData:
    payload = sign_ticket(KEYS[0], ticket_code=f"BADGE{i:05d}", event_id=EVENT_ID, ticket_type_id=3,
                          initials=initials(name))
    return BadgeData(name=name, organisation=organisation, role="attendee", event_title=EVENT_TITLE,
                     qr_payload=payload, ticket_type_id=3)


SEVENTEEN = [attendee(i, name) for i, name in enumerate(LATIN_NAMES + BENGALI_NAMES)]


def qr_codes(png: Path) -> list:
    import zxingcpp
    from PIL import Image

    return [r for r in zxingcpp.read_barcodes(Image.open(png)) if r.format == zxingcpp.BarcodeFormat.QRCode]


def width_mm(result, dpi: int) -> float:
    pos = result.position
    xs = [p.x for p in (pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right)]
    return (max(xs) - min(xs)) / dpi * MM


def flat(text: str) -> str:
    return "".join(text.split())


# --- fitting ---------------------------------------------------------------------------------------

def test_short_names_print_large_and_long_names_shrink_to_fit():
    box = LAYOUTS["sheet"].name
    assert fit_pt("Ann Lee", box, (22, 6), weight=700) == (22, None)
    size, clip = fit_pt(LONG_NAME, box, (22, 6), weight=700)
    assert 6 <= size <= 10 and clip is None  # 200 characters still fit, smaller
    sizes = [fit_pt("Eleanor " * n, box, (22, 6), weight=700)[0] for n in range(1, 12)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]
    # Nothing fits at the smallest size: the box is cut to whole lines, the overflow hidden between lines
    size, clip = fit_pt("word " * 400, Box(0, 0, 50, 10), (12, 6))
    assert size == 6 and clip is not None and clip <= 10


def test_bengali_names_are_measured_with_the_bengali_font():
    box = LAYOUTS["sheet"].name
    assert fit_pt("সুমাইয়া বেগম", box, (22, 6), weight=700)[0] == 22
    assert fit_pt("মোহাম্মদ আব্দুল করিম উদ্দিন চৌধুরী " * 4, box, (22, 6), weight=700)[0] < 22


# Byte-mode capacity at level M of some versions (ISO/IEC 18004, table 7): the smallest version must be used.
M_BYTES = {1: 14, 2: 26, 3: 42, 7: 122, 8: 152, 10: 213, 40: 2331}


@pytest.mark.parametrize("version", sorted(M_BYTES))
def test_badge_qr_is_the_smallest_version_at_level_m_and_decodes(version):
    """kernel.badges.qr fixes the mask and looks the version up by length: the codes must stay what a
    scanner expects, one pixel per module with a 2-module quiet zone."""
    import base64

    import zxingcpp
    from PIL import Image

    from kernel.badges.qr import QR_BORDER, qr_png_uri

    for n, expected in ((M_BYTES[version], version), (M_BYTES[version] + 1, version + 1)):
        if expected > 40:
            with pytest.raises(ValueError):
                qr_png_uri("x" * n)
            continue
        payload = ("eyJ0Ijo-_.Q9" * 200)[:n]  # base64url-like text, as ticket payloads are
        uri = qr_png_uri(payload)
        image = Image.open(io.BytesIO(base64.b64decode(uri.removeprefix("data:image/png;base64,"))))
        assert image.mode == "L"
        assert image.size == (17 + 4 * expected + 2 * QR_BORDER,) * 2
        assert set(image.tobytes()) == {0, 255}
        [result] = zxingcpp.read_barcodes(image.resize((image.width * 4,) * 2, Image.Resampling.NEAREST))
        assert result.text == payload
        assert (result.extra["Version"], result.extra["ECLevel"]) == (str(expected), "M")


def test_template_escapes_names():
    page = badges_html([BadgeData('<script>alert("x")</script> & Co', "<b>Org</b>", "attendee", "T")])
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;Org" in page


def test_nothing_to_print_is_an_error_of_its_own():
    with pytest.raises(NothingToPrint):
        render_badges([])


# --- the three layouts -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sheet_pdf() -> bytes:
    """17 attendees on 10-up sheets, through the parallel path (chunks of one sheet, merged)."""
    seen = []
    pdf = render_badges(SEVENTEEN, "sheet", title=f"Badges: {EVENT_TITLE}", parallel=True, chunk_sheets=1,
                        progress=lambda done, total: seen.append((done, total)))
    assert seen == [(10, 17), (17, 17)]
    return pdf


@pytest.mark.parametrize(("layout", "pages"), [("sheet", 2), ("a6", 5), ("label", 17)])
def test_page_counts(layout, pages):
    pdf = render_badges(SEVENTEEN, layout, parallel=False)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == pages


def test_sheet_has_names_roles_organisations_and_the_event(sheet_pdf):
    reader = PdfReader(io.BytesIO(sheet_pdf))
    assert len(reader.pages) == 2
    assert reader.metadata.title == f"Badges: {EVENT_TITLE}"
    assert reader.root_object["/Lang"] == "en-GB"  # set on the merged file, for screen readers
    first, second = (page.extract_text() for page in reader.pages)
    for name in LATIN_NAMES[:10]:
        assert flat(name) in flat(first)
    for name in LATIN_NAMES[10:]:
        assert flat(name) in flat(second)
    for name in BENGALI_NAMES:
        assert letters(name) in letters(second)
    assert first.count("ATTENDEE") == 10 and second.count("ATTENDEE") == 7
    assert first.count("Bangla Month celebration") == 10 and "বাংলা মাস" in first
    assert first.count("Handsworth Community Kitchen") == 10


def test_parallel_and_single_renders_say_the_same(sheet_pdf):
    single = render_badges(SEVENTEEN, "sheet", parallel=False)
    texts = [[p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages] for pdf in (single, sheet_pdf)]
    assert texts[0] == texts[1]


def test_every_qr_on_the_sheets_scans_and_verifies_with_the_event_key(sheet_pdf):
    pngs = pdf_pages(sheet_pdf, "badges-sheet", dpi=150)
    assert len(pngs) == 2
    codes = {}
    for png, expected in zip(pngs, (10, 7), strict=True):
        results = qr_codes(png)
        assert len(results) == expected, png
        for result in results:
            claims = verify_ticket(KEYS[1], result.text)
            assert claims.event_id == EVENT_ID
            codes[claims.ticket_code] = claims.initials
            assert width_mm(result, 150) >= 18, f"QR only {width_mm(result, 150):.1f} mm wide"
    assert codes == {f"BADGE{i:05d}": initials(b.name) for i, b in enumerate(SEVENTEEN)}


@pytest.mark.parametrize(("layout", "min_mm"), [("a6", 40), ("label", 20)])
def test_a6_and_label_qr_codes_scan(layout, min_mm):
    badges = SEVENTEEN[-5:]
    pdf = render_badges(badges, layout, parallel=False)
    pngs = pdf_pages(pdf, f"badges-{layout}", dpi=150)
    found = []
    for png in pngs:
        for result in qr_codes(png):
            found.append(verify_ticket(KEYS[1], result.text).ticket_code)
            assert width_mm(result, 150) >= min_mm
    assert sorted(found) == [f"BADGE{i:05d}" for i in range(12, 17)]


def test_bengali_is_embedded_from_our_font_with_no_missing_glyph(sheet_pdf):
    reader = PdfReader(io.BytesIO(sheet_pdf))
    second = reader.pages[1]
    families = {embedded_font_family(font) for font in page_fonts(second).values()}
    assert families == {"Noto Sans", "Noto Sans Bengali"}
    for page in reader.pages:
        assert missing_glyphs(reader, page) == []
    path = write_pdf(sheet_pdf, "badges-fonts")
    out = subprocess.run([need("pdffonts"), str(path)], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    assert any("Denhub-Bengali" in row[0] for row in rows), out
    assert all(row[-5] == "yes" for row in rows), out  # every font embedded


def _dark(image, box_mm: tuple[float, float, float, float], dpi: int) -> int:
    """Dark pixels in a page area given in mm (left, top, right, bottom)."""
    left, top, right, bottom = (round(v / MM * dpi) for v in box_mm)
    area = image.convert("L").crop((left, top, right, bottom))
    return sum(area.histogram()[:160])


def test_a_200_character_name_stays_inside_its_badge_and_a_half_sheet_is_blank_below():
    from PIL import Image

    badges = [BadgeData(LONG_NAME, "Soho House Museum", "judge", EVENT_TITLE), *SEVENTEEN[:2]]
    pdf = render_badges(badges, "sheet", parallel=False)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert flat(LONG_NAME) in flat(text) and "JUDGE" in text
    [png] = pdf_pages(pdf, "badges-long-name", dpi=100)
    image = Image.open(png)
    # The grid starts at 15 x 11 mm; cells are 90 x 55 mm with cards 2 mm inside. Three cells are filled:
    # row 0 (both) and row 1 (left). Below the long name's card, before the next card: only the cut-mark
    # crosses at the corners, nothing in between.
    assert _dark(image, (15 + 4, 11 + 53.5, 15 + 86, 11 + 56.5), 100) == 0
    # The right cell of row 1 and all of rows 2 to 4 are empty: blank, with no stray marks (the guide
    # ticks under the last filled row stop 6.5 mm below it).
    assert _dark(image, (105 + 4, 66 + 4, 210, 297), 100) == 0
    assert _dark(image, (0, 121 + 7, 210, 297), 100) == 0


def test_emoji_and_mixed_scripts_render():
    badges = [BadgeData("Zoë 😀 Łukasz 王小明 محمد সুমাইয়া", "Mixed ✨ Co-op", "organiser", EVENT_TITLE),
              BadgeData("\u200d\u0378 Ann", "", "volunteer", EVENT_TITLE)]
    for layout in LAYOUTS:
        pdf = render_badges(badges, layout, parallel=False)
        # poppler, not pypdf: pypdf garbles a page's text once a glyph is missing (WeasyPrint's .notdef)
        path = write_pdf(pdf, f"badges-mixed-{layout}")
        text = subprocess.run([need("pdftotext"), str(path), "-"], check=True, capture_output=True,
                              text=True).stdout
        # where the name wraps is the layout's business: compare without line breaks
        assert flat("Zoë 😀 Łukasz 王小明") in flat(text) and "محمد" in text
        assert "ORGANISER" in text and "VOLUNTEER" in text


def test_roles_are_written_in_words_with_a_colour_each():
    css = (Path(__file__).resolve().parents[2] / "templates" / "pdf" / "badges.css").read_text()
    colours = {role: css.split(f".role-{role} .band {{ background: ", 1)[1].split(";", 1)[0]
               for role in ("attendee", "judge", "entrant", "volunteer", "organiser")}
    assert len(set(colours.values())) == 5
    badges = [BadgeData(f"Person {role}", "", role, "T") for role in colours]
    badges.append(BadgeData("X", "", "chair", "T"))  # a role without a colour of its own still says so
    text = PdfReader(io.BytesIO(render_badges(badges, "sheet", parallel=False))).pages[0].extract_text()
    for word in ("ATTENDEE", "JUDGE", "ENTRANT", "VOLUNTEER", "ORGANISER", "CHAIR"):
        assert word in text


async def test_async_render_in_parallel_chunks():
    badges = SEVENTEEN * 3  # 51 badges, 6 sheets
    pdf = await render_badges_async(badges, "sheet", parallel=True, chunk_sheets=2)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 6
    assert flat(LATIN_NAMES[0]) in flat(reader.pages[0].extract_text())
    assert letters(BENGALI_NAMES[2]) == letters(reader.pages[5].extract_text().split("\n")[1])  # badge 51


# --- who gets a badge (SQLite and PostgreSQL) -------------------------------------------------------

@pytest.fixture
async def festival(db):
    async with db.write() as session:
        event = await make_event(session, slug="bangla-month", title=EVENT_TITLE)
        empty = await make_event(session, slug="quiet-night", title="A quiet night")
        adult = await make_ticket_type(session, event, name="Adult", capacity=100)
        child = await make_ticket_type(session, event, name="Child", capacity=100)
        await make_order(session, event,
                         [(adult.id, "সুমাইয়া বেগম"), (adult.id, "Eleanor Whitfield-Okafor")],
                         organisation="Handsworth Community Kitchen")
        cancelled = await make_order(session, event,
                                     [(child.id, "Cancelled Person"), (child.id, "Rahim Uddin")])
        await services.cancel_tickets(session=session, tickets=[cancelled.tickets[0]])
        volunteer = await make_user(session, role=Role.DOOR_STAFF, name="Vera Volunteer")
        await make_user(session, role=Role.DOOR_STAFF, name="Not On This Door")
        session.add(DoorAssignment(event_id=event.id, user_id=volunteer.id))
        await make_user(session, role=Role.ADMIN, name="Olu Organiser")
        key = await session.get(EventKey, event.id)
    return {"event": event, "empty": empty, "adult": adult, "child": child, "public_key": key.public_key}


async def test_event_badges_by_role_and_ticket_type(app, db, festival):
    event = festival["event"]
    async with db.read() as session:
        everyone = await event_badges(session=session, badge_roles=app.state.hooks.badge_roles, event=event)
        adults = await event_badges(session=session, badge_roles=app.state.hooks.badge_roles, event=event, ticket_type_id=festival["adult"].id)
        staff = await event_badges(session=session, badge_roles=app.state.hooks.badge_roles, event=event, roles=["volunteer", "organiser"])
        with pytest.raises(ValueError):
            await event_badges(session=session, badge_roles=app.state.hooks.badge_roles, event=event, roles=["astronaut"])
    by_role = {}
    for badge in everyone:
        by_role.setdefault(badge.role, []).append(badge.name)
    assert by_role == {"attendee": ["Eleanor Whitfield-Okafor", "Rahim Uddin", "সুমাইয়া বেগম"],
                       "volunteer": ["Vera Volunteer"]}  # organisers only when asked for
    assert [b.name for b in adults] == ["Eleanor Whitfield-Okafor", "সুমাইয়া বেগম"]
    assert {b.organisation for b in adults} == {"Handsworth Community Kitchen"}
    assert [(b.role, b.name) for b in staff] == [("volunteer", "Vera Volunteer"),
                                                 ("organiser", "Olu Organiser")]
    for badge in everyone:
        assert badge.event_title == EVENT_TITLE
        if badge.role == "attendee":
            assert verify_ticket(festival["public_key"], badge.qr_payload).event_id == event.id
        else:
            assert badge.qr_payload == ""


async def test_judges_and_entrants_come_from_the_judging_package(app, db, festival):
    models = pytest.importorskip("judging.models")
    async with db.write() as session:
        competition = models.Competition(event_id=festival["event"].id, name="Pitch night")
        session.add(competition)
        await session.flush()
        judge = await make_user(session, role=Role.JUDGE, name="Jaya Judge")
        session.add(models.JudgeAssignment(competition_id=competition.id, user_id=judge.id))
        session.add(models.Entrant(competition_id=competition.id, name="Ezra Entrant",
                                   enterprise="Bike Kitchen CIC", contact_email="e@example.org",
                                   status="accepted"))
        session.add(models.Entrant(competition_id=competition.id, name="Applied Only", enterprise="X",
                                   contact_email="a@example.org", status="applied"))
    async with db.read() as session:
        badges = await event_badges(session=session, badge_roles=app.state.hooks.badge_roles,
                                    event=festival["event"], roles=["judge", "entrant"])
    assert [(b.role, b.name, b.organisation, b.role_label) for b in badges] == [
        ("judge", "Jaya Judge", "", "Judge"), ("entrant", "Ezra Entrant", "Bike Kitchen CIC", "Entrant")]


async def test_judge_and_entrant_badges_are_offered_only_where_there_is_a_competition(app, db, festival):
    """judging's badge roles decline (kernel.hooks) for an event without a competition."""
    from judging.models import Competition

    async with new_client(app) as client:
        await sign_in(client, db, Role.ADMIN)
        page = html.unescape((await client.get(f"/organiser/events/{festival['event'].id}/badges")).text)
        assert "Volunteers (1)" in page and "Judges (" not in page and "Entrants (" not in page
        refused = await client.get(f"/organiser/events/{festival['event'].id}/badges.pdf", params={"role": "judge"})
        assert refused.status_code == 400
        async with db.write() as session:
            session.add(Competition(event_id=festival["event"].id, name="Pitch night"))
        page = html.unescape((await client.get(f"/organiser/events/{festival['event'].id}/badges")).text)
        assert "Judges (0)" in page and "Entrants (0)" in page


# --- the organiser pages ---------------------------------------------------------------------------

async def test_badges_pages_are_for_organisers_only(app, db, festival):
    base = f"/organiser/events/{festival['event'].id}/badges"
    for path in (base, base + "/prepare", base + ".pdf"):
        async with new_client(app) as anonymous:
            response = await anonymous.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login")
        for role in (Role.DOOR_STAFF, Role.JUDGE):
            async with new_client(app) as client:
                await sign_in(client, db, role)
                assert (await client.get(path)).status_code == 403


async def test_organiser_chooses_prepares_and_downloads(app, db, festival):
    event = festival["event"]
    async with new_client(app) as client:
        await sign_in(client, db, Role.ADMIN, name="Second Organiser")
        form = await client.get(f"/organiser/events/{event.id}/badges")
        assert form.status_code == 200
        page = html.unescape(form.text)
        assert "Everyone at the event (4)" in page and "Attendees (3)" in page and "Volunteers (1)" in page
        assert "Organisers (2)" in page and "Adult (2)" in page and "Child (1)" in page
        assert f'href="/organiser/events/{event.id}/badges" aria-current="page"' in form.text

        prepare = await client.get(f"/organiser/events/{event.id}/badges/prepare",
                                   params={"layout": "a6", "role": "attendee", "type": festival["adult"].id})
        assert prepare.status_code == 200
        assert "Preparing 2 badges on 1 page" in prepare.text and "<progress" in prepare.text
        query = f"layout=a6&amp;role=attendee&amp;type={festival['adult'].id}"
        pdf_url = f"/organiser/events/{event.id}/badges.pdf?{query}"
        assert f'<meta http-equiv="refresh" content="1;url={pdf_url}">' in prepare.text

        response = await client.get(html.unescape(pdf_url))
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        assert 'filename="badges-bangla-month-a6.pdf"' in response.headers["content-disposition"]
        reader = PdfReader(io.BytesIO(response.content))
        text = reader.pages[0].extract_text()
        assert len(reader.pages) == 1 and "EleanorWhitfield-Okafor" in flat(text) and "Rahim" not in text

        everyone = await client.get(f"/organiser/events/{event.id}/badges.pdf")
        assert everyone.status_code == 200
        # Everyone at the event: 3 attendees and the volunteer; organisers only when asked for
        assert PdfReader(io.BytesIO(everyone.content)).pages[0].extract_text().count("Bangla Month") == 4
        organisers = await client.get(f"/organiser/events/{event.id}/badges.pdf",
                                      params={"role": "organiser"})
        text = PdfReader(io.BytesIO(organisers.content)).pages[0].extract_text()
        assert "Olu Organiser" in text and "Second Organiser" in text and text.count("ORGANISER") == 2

        bad = await client.get(f"/organiser/events/{event.id}/badges.pdf", params={"layout": "poster"})
        assert bad.status_code == 400
        other_type = await client.get(f"/organiser/events/{event.id}/badges.pdf", params={"type": "999999"})
        assert other_type.status_code == 400


async def test_an_event_with_nobody_says_there_is_nothing_to_print(app, db, festival):
    empty = festival["empty"]
    async with new_client(app) as client:
        await sign_in(client, db, Role.ADMIN)
        form = await client.get(f"/organiser/events/{empty.id}/badges", params={"role": "attendee"})
        assert form.status_code == 200 and "nothing to print" in form.text
        prepare = await client.get(f"/organiser/events/{empty.id}/badges/prepare",
                                   params={"role": "attendee"})
        assert prepare.status_code == 200 and "There is nothing to print" in prepare.text
        assert "http-equiv" not in prepare.text
        pdf = await client.get(f"/organiser/events/{empty.id}/badges.pdf", params={"role": "attendee"})
        assert pdf.status_code == 404 and "There is nothing to print" in pdf.text
        assert pdf.headers["content-type"].startswith("text/html")


# --- the command line ------------------------------------------------------------------------------

@pytest.fixture
def cli_env(monkeypatch, tmp_path, db_url):
    monkeypatch.setenv("DENHUB_ENV", "test")
    monkeypatch.setenv("DENHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("DENHUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DENHUB_DATABASE_URL", db_url)


def _run_cli(argv: list[str]) -> None:
    from denhub.cli import main

    main(argv)


async def test_cli_writes_the_badges_pdf(cli_env, festival, tmp_path, capfd):
    import anyio

    out = tmp_path / "badges.pdf"
    argv = ["badges", "bangla-month", "--out", str(out), "--layout", "label", "--role", "attendee",
            "--role", "volunteer"]
    await anyio.to_thread.run_sync(_run_cli, argv)
    captured = capfd.readouterr()
    assert "rendering badges 4/4" in captured.err
    assert "4 badges on 4 pages" in captured.out
    reader = PdfReader(str(out))
    assert len(reader.pages) == 4
    assert "VOLUNTEER" in reader.pages[3].extract_text()

    by_type = tmp_path / "child.pdf"
    await anyio.to_thread.run_sync(_run_cli, ["badges", str(festival["event"].id), "--out", str(by_type),
                                              "--type", "child"])
    assert "Rahim Uddin" in PdfReader(str(by_type)).pages[0].extract_text()


@pytest.mark.parametrize(("argv", "message"), [
    (["badges", "quiet-night"], "nothing to print"),
    (["badges", "no-such-event"], "there is no event"),
    (["badges", "bangla-month", "--type", "VIP"], "has no ticket type"),
    (["badges", "bangla-month", "--role", "astronaut"], "no such role"),
])
async def test_cli_refuses_with_a_clear_message(cli_env, festival, tmp_path, argv, message):
    import anyio

    out = tmp_path / "none.pdf"
    with pytest.raises(SystemExit) as exc:
        await anyio.to_thread.run_sync(_run_cli, [*argv, "--out", str(out)])
    assert message in str(exc.value.code) and exc.value.code != 0
    assert not out.exists()
