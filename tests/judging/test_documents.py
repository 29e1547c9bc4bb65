"""Printed judging documents (judging/documents.py): blank paper score sheets whose QR codes scan to the
scoring page, the feedback pack with judges anonymised, the results report with vector charts; fonts
(Bengali included) embedded with no missing glyph; the organiser-only routes; empty competitions; long,
emoji and Bengali names that must not break the layout."""

from __future__ import annotations

import io
import itertools
import re
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from events.models import Event
from judging import documents, scoring, votes
from judging.competitions import release_results
from judging.documents import (
    FeedbackDoc,
    FeedbackEntrant,
    JudgeMarks,
    ResultsDoc,
    ScoreSheetsDoc,
    SheetJudge,
    feedback_html,
    feedback_pdf,
    judge_letter,
    load_feedback,
    load_report,
    load_score_sheets,
    ordinal,
    report_groups,
    results_html,
    results_pdf,
    score_sheets_html,
    score_sheets_pdf,
)
from judging.judges import declare_conflict
from judging.models import DEFAULT_RUBRIC, Competition, Criterion, Entrant
from judging.results import Group, ResultsView
from kernel.accounts import Role, User
from kernel.db import utcnow
from tests.core.helpers import new_client, sign_in
from tests.factories import make_event
from tests.files import need, pdf_pages, write_pdf
from tests.judging.factories import make_competition, make_entrant, make_judge, make_tickets, score
from tests.ticketing.test_documents import embedded_font_family, letters, missing_glyphs, page_fonts

BASE_URL = "http://testserver"  # the `settings` fixture's base_url
MM = 25.4

# The panel in the order they join it (so Judge A, B, C in the feedback pack follow this order).
JUDGES = ["Amira Okafor", "Bob Markwell", "সুমাইয়া বেগম"]
# (enterprise, person pitching), in running order
ENTRANTS = [("Bike Kitchen CIC", "Ezra Whitfield"), ("রান্নাঘর সমবায়", "রহিম উদ্দিন"),
            ("Repair Café Handsworth", "Zoë Brontë"), ("Solar for Mosques", "Bilal Ahmed")]
CRITERIA = ["Social impact", "Viability", "Innovation", "Team", "Pitch"]
# judge -> entrant -> scores in rubric order (social impact 30, viability 25, innovation 15, team 15,
# pitch 15). Bob recuses from Bike Kitchen. Repair Café and Solar for Mosques get equal weighted totals
# from every judge, so they tie on both rankings; Repair Café has the higher social impact, which is the
# first tie-break rule.
SCORES = {
    0: {0: [9, 8, 7, 8, 9], 1: [7, 7, 8, 6, 7], 2: [8, 6, 6, 6, 6], 3: [7, 6, 8, 6, 6]},
    1: {1: [6, 6, 7, 5, 6], 2: [7, 5, 5, 5, 5], 3: [6, 5, 7, 5, 5]},
    2: {0: [8, 9, 8, 7, 8], 1: [8, 7, 7, 7, 8], 2: [6, 6, 5, 6, 6], 3: [5, 6, 7, 6, 6]},
}
COMMENTS = {(0, 0): "Brilliant community roots; grow the volunteer base.",
            (1, 1): "Costs need work: show the numbers for year two.",
            (2, 2): "খুব ভালো! A clear, warm pitch."}
VOTES = {0: 2, 1: 5}  # entrant -> audience votes (none for the two tied entrants: they stay tied)


async def build_night(db, *, release: bool = False, audience_percent: int = 20) -> dict:
    """The pitch night above, scored and submitted; the audience vote held; released if asked."""
    async with db.write() as session:
        event = await make_event(session, category="pitch_night", title="বাংলা মাস: Dragons of Handsworth")
        competition = await make_competition(session, event=event, name="Handsworth Pitch Night 2025",
                                             audience_weight_percent=audience_percent)
        entrants = [await make_entrant(session, competition, enterprise=e, name=n) for e, n in ENTRANTS]
        judges = [await make_judge(session, competition, name=name, is_chair=i == 0)
                  for i, name in enumerate(JUDGES)]
        await declare_conflict(session=session, competition=competition, judge_id=judges[1].id,
                               entrant_id=entrants[0].id, reason="I mentor this founder")
        for j, row in SCORES.items():
            for e, values in row.items():
                await score(session, competition, judges[j], entrants[e], values,
                            feedback=COMMENTS.get((j, e), ""))
        tickets = await make_tickets(session, event.id, sum(VOTES.values()))
        await votes.open_voting(session=session, competition=competition, actor_id=None)
    codes = iter(t.code for t in tickets)
    for e, n in VOTES.items():
        for _ in range(n):
            async with db.write() as session:
                await votes.cast_vote(session=session, competition_id=competition.id, ticket_code=next(codes),
                                      entrant_id=entrants[e].id, via=votes.VIA_CODE)
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        await votes.close_voting(session=session, competition=fresh, actor_id=None)
        if release:
            await release_results(session=session, competition=fresh, visibility="public", actor_id=None)
    return {"competition_id": competition.id, "entrants": entrants, "judges": judges, "event": event}


async def _competition(db, competition_id: int) -> Competition:
    async with db.read() as session:
        return await session.get(Competition, competition_id)


def pdftotext(pdf: bytes, stem: str) -> list[str]:
    """Each page's text by poppler (pypdf garbles a page once a glyph is missing, as with emoji)."""
    out = subprocess.run([need("pdftotext"), "-layout", str(write_pdf(pdf, stem)), "-"], check=True,
                         capture_output=True, text=True).stdout
    return out.split("\f")[:-1]


def texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return "".join(text.split())


def shows(name: str, text: str) -> bool:
    """`name` is on the page: Bengali compared by its base letters (extraction reorders vowel signs)."""
    return letters(name) in letters(text) if letters(name) else flat(name) in flat(text)


def assert_fonts_embedded_and_complete(pdf: bytes, stem: str, *, bengali: bool = True) -> None:
    """pdffonts: every font embedded, ours only (Bengali among them when asked); no .notdef glyph drawn."""
    out = subprocess.run([need("pdffonts"), str(write_pdf(pdf, stem))], check=True, capture_output=True,
                         text=True).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    assert rows, out
    assert all(row[-5] == "yes" for row in rows), out
    assert all(row[0].split("+", 1)[-1].startswith("Denhub-") for row in rows), out
    if bengali:
        assert any("Denhub-Bengali" in row[0] for row in rows), out
    reader = PdfReader(io.BytesIO(pdf))
    families = set()
    for page in reader.pages:
        assert missing_glyphs(reader, page) == []
        families |= {embedded_font_family(font) for font in page_fonts(page).values()}
    assert "Noto Sans" in families and (not bengali or "Noto Sans Bengali" in families)


def image_xobjects(page) -> list:
    """Raster images drawn on the page, directly or inside its form XObjects."""
    found = []

    def walk(resources):
        resources = resources.get_object() if resources is not None else {}
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Image":
                found.append(xobject)
            elif xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources"))

    walk(page.get("/Resources"))
    return found


def qr_codes(png: Path) -> list:
    import zxingcpp
    from PIL import Image

    return [r for r in zxingcpp.read_barcodes(Image.open(png)) if r.format == zxingcpp.BarcodeFormat.QRCode]


def ink_outside(png: Path, dpi: int, *, left: float = 10, right: float = 10, top: float = 5,
                bottom: float = 5) -> int:
    """Dark pixels within `left`/`right`... mm of the paper's edges (the page margins are 14 mm or more, the
    header and footer lines sit 6 mm or more from the edge): anything there has overflowed its box."""
    from PIL import Image

    image = Image.open(png).convert("L")
    w, h = image.size
    px = lambda mm: round(mm / MM * dpi)
    dark = 0
    for box in ((0, 0, px(left), h), (w - px(right), 0, w, h), (0, 0, w, px(top)), (0, h - px(bottom), w, h)):
        dark += sum(image.crop(box).histogram()[:128])
    return dark


# --- pure helpers ------------------------------------------------------------------------------------

def test_letters_and_ordinals():
    assert [judge_letter(i) for i in (0, 1, 2, 25, 26, 27, 51, 52)] == ["A", "B", "C", "Z", "AA", "AB", "AZ", "BA"]
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]


# --- score sheets -----------------------------------------------------------------------------------

@pytest.fixture
async def night(db):
    return await build_night(db)


async def test_score_sheets_one_section_per_judge_with_rubric_and_running_order(db, night):
    competition = await _competition(db, night["competition_id"])
    async with db.read() as session:
        doc = await load_score_sheets(session=session, competition=competition, base_url=BASE_URL)
    assert sorted(j.name for j in doc.judges) == sorted(JUDGES)
    filename, mimetype, pdf = await score_sheets_pdf(doc)
    assert mimetype == "application/pdf" and filename == f"score-sheets-{competition.id}-handsworth-pitch-night-2025.pdf"
    pages = texts(pdf)
    assert len(pages) >= 3
    # Every page belongs to exactly one judge (their name is in the page header), and each judge's pages
    # are consecutive: page breaks between judges.
    owners = []
    for text in pages:
        mine = [name for name in JUDGES if shows(name, text)]
        assert len(mine) == 1, text[:300]
        owners.append(mine[0])
    assert [owners[0]] + [b for a, b in itertools.pairwise(owners) if a != b] == [j.name for j in doc.judges]
    for judge in doc.judges:
        text = "\n".join(t for t, o in zip(pages, owners) if o == judge.name)
        assert flat(text).count("Socialimpact") >= 2  # the rubric and the column headings
        for criterion in CRITERIA:
            assert flat(criterion) in flat(text)
        assert "How much good it does" in text  # the criterion's description
        assert "1–10" in text
        # running order: each entrant once, in order
        assert all(shows(e, text) for e, _ in ENTRANTS)
        latin = [flat(text).find(flat(e)) for e, _ in ENTRANTS if not letters(e)]
        assert latin == sorted(latin) and flat(text).count(flat(ENTRANTS[0][0])) == 1
        assert f"{BASE_URL}/judging/{competition.id}" in flat(text)
    bob = "\n".join(t for t, o in zip(pages, owners) if o == "Bob Markwell")
    assert "Conflict of interest declared" in bob
    assert "Conflict of interest declared" not in "\n".join(t for t, o in zip(pages, owners) if o != "Bob Markwell")
    assert "Chair of the panel" in "\n".join(t for t, o in zip(pages, owners) if o == "Amira Okafor")
    assert_fonts_embedded_and_complete(pdf, "judging-doc-sheets")


async def test_every_score_sheet_qr_code_scans_to_the_scoring_page(db, night):
    competition = await _competition(db, night["competition_id"])
    async with db.read() as session:
        doc = await load_score_sheets(session=session, competition=competition, base_url=BASE_URL)
    _, _, pdf = await score_sheets_pdf(doc)
    pngs = pdf_pages(pdf, "judging-doc-sheets", dpi=150)
    found = []
    for png in pngs:
        for result in qr_codes(png):
            found.append(result.text)
            pos = result.position
            xs = [p.x for p in (pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right)]
            assert (max(xs) - min(xs)) / 150 * MM >= 25  # big enough to scan off paper
    assert found == [f"{BASE_URL}/judging/{competition.id}"] * len(JUDGES)


async def test_a_long_running_order_flows_onto_more_pages_with_the_headings_repeated(db):
    async with db.write() as session:
        competition = await make_competition(session, name="Long night")
        for i in range(14):
            await make_entrant(session, competition, enterprise=f"Enterprise number {i + 1:02d}",
                               name=f"Founder {i + 1:02d}")
        await make_judge(session, competition, name="Only Judge")
    async with db.read() as session:
        doc = await load_score_sheets(session=session, competition=competition, base_url=BASE_URL)
    _, _, pdf = await score_sheets_pdf(doc)
    pages = texts(pdf)
    assert len(pages) >= 2
    seen = []
    for text in pages:
        assert "Only Judge" in text  # the page header
        assert "Socialimpact" in flat(text) and "Viability" in text  # the table's headings again
        seen += re.findall(r"Enterprise number (\d\d)", text)
    assert seen == [f"{i:02d}" for i in range(1, 15)]  # every entrant once, in running order
    for png in pdf_pages(pdf, "judging-doc-sheets-long", dpi=80):
        assert ink_outside(png, 80) == 0


# --- feedback pack ----------------------------------------------------------------------------------

async def test_feedback_pack_one_section_per_entrant_with_judges_anonymised(db, night):
    competition = await _competition(db, night["competition_id"])
    async with db.read() as session:
        doc = await load_feedback(session=session, competition=competition)
        view = await documents.load_results(session=session, competition=competition)
    assert doc.preview
    filename, _, pdf = await feedback_pdf(doc)
    assert filename.endswith("-preview.pdf")
    pages = texts(pdf)
    assert len(pages) == len(ENTRANTS)  # one section (here one page) per entrant, in running order
    whole = "\n".join(pages)
    for judge in JUDGES:  # no judge is ever named
        assert not shows(judge, whole)
    assert "Amira" not in whole and "Markwell" not in whole and letters("সুমাইয়া") not in letters(whole)
    for (enterprise, person), text in zip(ENTRANTS, pages, strict=True):
        assert shows(enterprise, text) and shows(person, text)
        assert "PREVIEW — not released" in text
        for criterion in CRITERIA:
            assert criterion in text
    # Bike Kitchen: Bob recused, so two judges: A (Amira, joined first) and B (Sumaiya)
    bike = pages[0]
    assert "Judge A" in bike and "Judge B" in bike and "Judge C" not in bike
    assert "1 judge declared a conflict of interest" in bike
    assert "Brilliant community roots" in bike
    assert "8.5" in bike  # mean social impact (9 + 8) / 2
    # Everyone else: three judges; the comments appear under the letter of the judge who wrote them
    for text in pages[1:]:
        assert "Judge A" in text and "Judge B" in text and "Judge C" in text
    assert "Judge B\nCosts need work" in pages[1]
    assert "A clear, warm pitch" in pages[2] and "Judge C" in pages[2]
    # Places: the deciding ranking (combined, as the audience weight is 20 %)
    ranking = view.groups[0].results.combined
    for entrant, text in zip(night["entrants"], pages, strict=True):
        place = ranking.rank_of(entrant.id)
        assert ordinal(place) in text and f"of {len(ENTRANTS)} entrants" in text
    repair, solar = night["entrants"][2], night["entrants"][3]
    assert ranking.rank_of(repair.id) < ranking.rank_of(solar.id)
    assert "settled by higher mean “Social impact” score" in pages[2]
    assert "AUDIENCE VOTES\n5" in pages[1].upper()
    assert_fonts_embedded_and_complete(pdf, "judging-doc-feedback")


async def test_feedback_pack_after_release_is_not_marked_as_a_preview(db):
    night = await build_night(db, release=True, audience_percent=0)
    competition = await _competition(db, night["competition_id"])
    async with db.read() as session:
        doc = await load_feedback(session=session, competition=competition)
    assert not doc.preview
    filename, _, pdf = await feedback_pdf(doc)
    whole = "\n".join(texts(pdf))
    assert "PREVIEW" not in whole and "preview" not in filename
    assert "normalised ranking" in whole  # how places were decided, without the audience


# --- results report ---------------------------------------------------------------------------------

async def test_results_report_ranking_ties_vote_agreement_recusals_and_vector_charts(db, night):
    competition = await _competition(db, night["competition_id"])
    async with db.read() as session:
        doc = await load_report(session=session, competition=competition)
    html = results_html(doc)
    # Two charts, drawn as SVG shapes: a bar per criterion per entrant, a dot per judge's total
    assert html.count('class="bar"') == len(ENTRANTS) * len(CRITERIA)
    assert html.count('class="dot"') == sum(len(row) for row in SCORES.values())
    assert "<img" not in html and "<image" not in html
    _, _, pdf = await results_pdf(doc)
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        assert image_xobjects(page) == []  # vector only: no raster image anywhere
    pages = texts(pdf)
    whole = "\n".join(pages)
    assert "PREVIEW — not released" in pages[0]
    # The ranking table, in the deciding (combined) order, with the raw mean and normalised side by side
    ranking = doc.groups[0].headline
    names = [doc.view.entrant_name(p.entrant) for p in ranking.places]
    latin = [n for n in names if not letters(n)]
    table = pages[0][pages[0].find("Place"):]
    assert [table.find(n) for n in latin] == sorted(table.find(n) for n in latin)
    assert "Rawmean" in flat(whole) and "Norm-alised" in flat(whole) and "Com-bined" in flat(whole)
    assert flat("Separated by higher mean “Social impact” score: Repair Café Handsworth, then Solar for "
                "Mosques") in flat(whole)
    assert "Kendall’s W" in whole and "W = " in whole
    assert "Bob Markwell declared a conflict of interest with Bike Kitchen CIC" in " ".join(whole.split())
    assert "The audience vote" in whole and "7 votes cast" in whole and "20 %" in whole
    assert "Scores per criterion" in whole and "Each judge’s spread" in whole
    assert_fonts_embedded_and_complete(pdf, "judging-doc-results")


async def test_results_report_with_no_scores_yet_says_so(db):
    async with db.write() as session:
        competition = await make_competition(session)
        await make_entrant(session, competition, enterprise="Lonely Co")
        await make_judge(session, competition, name="Waiting Judge")
    async with db.read() as session:
        doc = await load_report(session=session, competition=competition)
        feedback = await load_feedback(session=session, competition=competition)
    whole = "\n".join(texts((await results_pdf(doc))[2]))
    assert "No submitted scores yet" in whole and "Lonely Co" in whole
    text = "\n".join(texts((await feedback_pdf(feedback))[2]))
    assert "No judge has submitted scores for you yet" in text and "Not ranked" in " ".join(text.split())


# --- the organiser routes ---------------------------------------------------------------------------

PDFS = ("score-sheets.pdf", "feedback.pdf", "results.pdf")


async def test_documents_are_for_organisers_only(app, db, night):
    base = f"/organiser/competitions/{night['competition_id']}"
    for name in PDFS:
        async with new_client(app) as anonymous:
            response = await anonymous.get(f"{base}/{name}")
            assert response.status_code == 303 and response.headers["location"].startswith("/login")
        for role in (Role.JUDGE, Role.DOOR_STAFF):
            async with new_client(app) as client:
                await sign_in(client, db, role)
                assert (await client.get(f"{base}/{name}")).status_code == 403
    async with new_client(app) as client:
        await sign_in(client, db, Role.ADMIN)
        for name in PDFS:
            response = await client.get(f"{base}/{name}")
            assert response.status_code == 200, response.text[:500]
            assert response.headers["content-type"] == "application/pdf"
            assert response.headers["content-disposition"].startswith("inline; filename=")
            assert response.headers["cache-control"] == "private, no-store"
            assert response.content.startswith(b"%PDF-")
        overview = await client.get(base)
        for name in PDFS:
            assert f'href="{base}/{name}"' in overview.text


async def test_one_judges_score_sheet_on_request(app, db, night):
    base = f"/organiser/competitions/{night['competition_id']}"
    bob = night["judges"][1]
    async with new_client(app) as client:
        await sign_in(client, db, Role.ADMIN)
        response = await client.get(f"{base}/score-sheets.pdf", params={"judge": bob.id})
        assert response.status_code == 200
        assert "bob-markwell" in response.headers["content-disposition"]
        whole = "\n".join(texts(response.content))
        assert "Bob Markwell" in whole and "Amira" not in whole
        assert (await client.get(f"{base}/score-sheets.pdf", params={"judge": "abc"})).status_code == 400
        missing = await client.get(f"{base}/score-sheets.pdf", params={"judge": "999999"})
        assert missing.status_code == 404 and "not on this competition’s panel" in missing.text


async def test_nothing_to_print_is_a_clear_409_page_not_a_500(app, db):
    async with db.write() as session:
        empty = await make_competition(session, name="Nobody yet")
        no_judges = await make_competition(session, name="No panel yet")
        await make_entrant(session, no_judges)
        no_entrants = await make_competition(session, name="No entrants yet")
        await make_judge(session, no_entrants)
    async with new_client(app) as client:
        await sign_in(client, db, Role.ADMIN)
        for competition, message in ((empty, "has no accepted entrants and no judges on the panel yet"),
                                     (no_judges, "has no judges on the panel yet"),
                                     (no_entrants, "has no accepted entrants yet")):
            for name in PDFS:
                response = await client.get(f"/organiser/competitions/{competition.id}/{name}")
                assert response.status_code == 409, (name, response.status_code)
                assert response.headers["content-type"].startswith("text/html")
                assert message in response.text.replace("&#8217;", "’")
                assert f'href="/organiser/competitions/{competition.id}"' in response.text
        assert (await client.get("/organiser/competitions/999999/results.pdf")).status_code == 404


# --- names that must not break the layout (no database: PostgreSQL limits names to 120 characters) ---

LONG = ("Anneliese Bartholomew-Fitzwilliam de la Cruz " * 5)[:200]
EMOJI = "Zoë’s 😀 Solar ✨ Co-op Łódź"
BENGALI_LONG = "মোহাম্মদ আব্দুল করিম উদ্দিন চৌধুরী সামাজিক উদ্যোগ " * 4
SPECS = [scoring.CriterionSpec(i + 1, key, name, 1, 10, weight) for i, (key, name, _, weight)
         in enumerate(DEFAULT_RUBRIC)]


def _awkward():
    competition = Competition(id=7, name=LONG[:160], event_id=1, audience_weight_percent=0, tie_break=["spread"],
                              status="scoring", results_visibility="public", chair_order=[])
    event = Event(id=1, title=BENGALI_LONG[:160], starts_at=utcnow())
    criteria = [Criterion(id=s.id, key=s.key, name=s.name, description=d, scale_min=1, scale_max=10,
                          weight=s.weight, position=i)
                for i, (s, (_, _, d, _)) in enumerate(zip(SPECS, DEFAULT_RUBRIC, strict=True))]
    entrants = [Entrant(id=1, enterprise=LONG, name=LONG, pitch=LONG, round_id=None),
                Entrant(id=2, enterprise=EMOJI, name="Ann 😀 Lee", pitch="", round_id=None),
                Entrant(id=3, enterprise=BENGALI_LONG, name="সুমাইয়া বেগম", pitch="", round_id=None)]
    judges = {11: User(id=11, name=LONG), 12: User(id=12, name=BENGALI_LONG[:120]), 13: User(id=13, name=EMOJI)}
    return competition, event, criteria, entrants, judges


async def test_long_emoji_and_bengali_names_wrap_inside_the_page():
    competition, event, criteria, entrants, judges = _awkward()
    sheets = ScoreSheetsDoc(competition=competition, event=event, criteria=criteria, entrants=entrants,
                            rounds={}, judges=[SheetJudge(j, u.name, j == 11, frozenset({2}) if j == 12 else
                                                          frozenset()) for j, u in judges.items()],
                            scoring_url=f"{BASE_URL}/judging/7")
    sheets_pdf = (await score_sheets_pdf(sheets))[2]

    values = {(j, e): {c.id: (j + e + c.id) % 10 + 1 for c in SPECS} for j in judges for e in (1, 2, 3)}
    results = scoring.compute(criteria=SPECS, entrants=[1, 2, 3], judges=list(judges),
                              sheets=[scoring.Sheet(j, e, v) for (j, e), v in values.items()],
                              tie_break=["spread"])
    view = ResultsView(competition=competition, criteria=SPECS, groups=[Group(None, entrants, results)],
                       entrants={e.id: e for e in entrants}, judges=judges, chair_id=11, drafts=0,
                       conflicts=[], votes={1: 0, 2: 0, 3: 0})
    report = ResultsDoc(view=view, event=event, groups=report_groups(view), decided_by="the normalised ranking",
                        generated_at=utcnow())
    report_pdf = (await results_pdf(report))[2]

    ranking = results.normalised
    feedback = FeedbackDoc(competition=competition, event=event, criteria=criteria, decided_by="the test",
                           voting=False, entrants=[FeedbackEntrant(
                               entrant=e, round_name="", place=ranking.rank_of(e.id), ranked=3, joint=False,
                               tie_rules=[], recused=0, votes=0, raw_mean=results.entrants[e.id].raw_mean,
                               criterion_means={c.id: results.entrants[e.id].criterion_means[c.key] for c in SPECS},
                               judges=[JudgeMarks(f"Judge {judge_letter(i)}", values[(j, e.id)],
                                                  results.totals[(j, e.id)], (LONG + " ") * 3)
                                       for i, j in enumerate(judges)]) for e in entrants])
    feedback_pdf_bytes = (await feedback_pdf(feedback))[2]

    for stem, pdf, most_pages in (("judging-doc-awkward-sheets", sheets_pdf, 6), ("judging-doc-awkward-results", report_pdf, 6),
                                  ("judging-doc-awkward-feedback", feedback_pdf_bytes, 6)):
        pages = pdftotext(pdf, stem)
        assert 1 <= len(pages) <= most_pages, (stem, len(pages))
        whole = flat("\n".join(pages))
        assert flat("Zoë’s 😀 Solar") in whole and "Łódź" in whole, stem
        assert letters("সুমাইয়া বেগম")[:3] in letters("".join(pages)) or letters(BENGALI_LONG)[:6] in letters(
            "".join(pages)), stem
        for png in pdf_pages(pdf, stem, dpi=80):
            assert ink_outside(png, 80) == 0, png  # nothing runs off the page
    assert len(pdftotext(sheets_pdf, "judging-doc-awkward-sheets")) >= 3  # one judge a page at least
    # the feedback pack never names a judge, even a 200-character one
    assert flat(LONG)[:40] in flat("\n".join(pdftotext(feedback_pdf_bytes, "judging-doc-awkward-feedback")))  # comments
    assert "Judge A" in "\n".join(pdftotext(feedback_pdf_bytes, "judging-doc-awkward-feedback"))


def test_templates_escape_what_people_type():
    competition, event, criteria, entrants, _judges = _awkward()
    entrants[0].enterprise = '<script>alert("x")</script> & Co'
    doc = ScoreSheetsDoc(competition=competition, event=event, criteria=criteria, entrants=entrants, rounds={},
                         judges=[SheetJudge(11, "<b>Judge</b>", False, frozenset())],
                         scoring_url=f"{BASE_URL}/judging/7")
    html = score_sheets_html(doc)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;Judge" in html
    assert html.count("<svg") == 1  # the QR code
    feedback = FeedbackDoc(competition=competition, event=event, criteria=criteria, decided_by="x", voting=False,
                           entrants=[FeedbackEntrant(entrants[0], "", None, 0, False, [], [
                               JudgeMarks("Judge A", {}, 50.0, "<i>nice</i>")], {}, None, 0, 0)])
    out = feedback_html(feedback)
    assert "<i>nice</i>" not in out and "&lt;i&gt;nice" in out and "<script>" not in out
