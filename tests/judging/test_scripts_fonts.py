"""Paper score sheets and the results report print entrants' and judges' names in every local script
(Bengali, Gurmukhi, Urdu, Devanagari, Arabic, Latin), shaped, with no missing glyph."""

from __future__ import annotations

from judging.documents import load_report, load_score_sheets, results_html, results_pdf, score_sheets_pdf
from judging.models import Competition
from tests.judging.factories import make_competition, make_entrant, make_judge, score
from tests.judging.test_documents import BASE_URL
from tests.ticketing.test_scripts_fonts import NAMES, assert_names_in_text, script_fonts


async def test_score_sheets_and_results_print_names_in_every_script(db):
    names = [name for name, _ in NAMES.values()]
    async with db.write() as session:
        competition = await make_competition(session, name="Vaisakhi Pitch Night")
        # Entrants pitch under their own names; the one judge is Punjabi.
        entrants = [await make_entrant(session, competition, name=name, enterprise=f"Enterprise {i}")
                    for i, name in enumerate(names)]
        judge = await make_judge(session, competition, name=NAMES["gurmukhi"][0], is_chair=True)
        for i, entrant in enumerate(entrants):
            await score(session, competition, judge, entrant, 3 + i)
    async with db.read() as session:
        fresh = await session.get(Competition, competition.id)
        sheets = await load_score_sheets(session=session, competition=fresh, base_url=BASE_URL)
        report = await load_report(session=session, competition=fresh)

    _, _, pdf = await score_sheets_pdf(sheets)
    assert_names_in_text(script_fonts(pdf, "score-sheets-scripts"))

    assert all(f'<span class="muted small" dir="auto">{name}</span>' in results_html(report) for name in names)
    _, _, pdf = await results_pdf(report)
    assert_names_in_text(script_fonts(pdf, "results-scripts"))
