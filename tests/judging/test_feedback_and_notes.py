"""A judge's two texts on a sheet (#16 point 14): feedback for the entrant, printed in the feedback pack,
and a private note for the organisers, never printed for the entrant; what the score page says of each,
where organisers read the notes, and the migration that kept every existing comment as entrant feedback."""

from __future__ import annotations

import asyncio
import re

from alembic import command
from sqlalchemy import text

from judging.models import Competition
from kernel.db import Database
from kernel.migrate import alembic_config, upgrade
from kernel.settings import PROJECT_ROOT
from tests.conftest import login
from tests.core.helpers import new_client, page_text, sign_in
from tests.factories import PASSWORD
from tests.judging.factories import make_competition, make_entrant, make_judge, score
from tests.judging.test_documents import texts

FEEDBACK = "Grow the volunteer base before the second site."
NOTE = "Declared late that she knows the treasurer; keep an eye on it."


async def _scored(db) -> tuple[Competition, object, object]:
    async with db.write() as session:
        competition = await make_competition(session, name="Ladywood Dragons")
        entrant = await make_entrant(session, competition, enterprise="Ladywood Larder", name="Precious Mensah")
        judge = await make_judge(session, competition, name="Judge Kemi")
        await score(session, competition, judge, entrant, [8, 7, 6, 7, 8], feedback=FEEDBACK, private_note=NOTE)
    return competition, entrant, judge


async def test_the_feedback_pack_prints_the_feedback_and_never_the_private_note(client, db):
    competition, _, _ = await _scored(db)
    await sign_in(client, db)
    response = await client.get(f"/organiser/competitions/{competition.id}/feedback.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    whole = " ".join(" ".join(texts(response.content)).split())
    assert "Ladywood Larder" in whole and "Judge A" in whole
    assert FEEDBACK in whole
    assert "treasurer" not in whole and "keep an eye" not in whole


async def test_the_score_page_says_who_reads_each_box(client, db):
    competition, entrant, judge = await _scored(db)
    assert (await login(client, judge.email, PASSWORD)).status_code == 303
    page = await client.get(f"/judging/{competition.id}/entrants/{entrant.id}")
    labels = dict(re.findall(r'<label for="(feedback|private_note)">(.*?)</label>', page.text, re.DOTALL))
    hints = dict(re.findall(r'<p class="hint" id="(feedback|private_note)-who">(.*?)</p>', page.text))
    assert page_text(page).count("(optional)") >= 2
    assert re.sub(r"<[^>]+>", "", labels["feedback"]) == "Feedback for the entrant (optional)"
    assert hints["feedback"] == "The entrant sees this: it is printed in their feedback pack, without your name."
    assert re.sub(r"<[^>]+>", "", labels["private_note"]) == "Private note for the organisers (optional)"
    assert hints["private_note"] == "Only the organisers see this. It is never shown or printed for the entrant."
    assert 'aria-describedby="feedback-who"' in page.text and 'aria-describedby="private_note-who"' in page.text
    assert "only the organisers see it" not in page.text  # the old label, on the box that was printed
    # The judge's own texts, each in its own box.
    assert re.search(r'<textarea id="feedback"[^>]*>' + re.escape(FEEDBACK) + "</textarea>", page.text)
    assert re.search(r'<textarea id="private_note"[^>]*>' + re.escape(NOTE.replace("'", "&#39;")) + "</textarea>",
                     page.text)
    # The script draws the same two boxes with the same words (static/js/judge.js).
    script = (PROJECT_ROOT / "static" / "js" / "judge.js").read_text()
    for words in ("Feedback for the entrant", hints["feedback"], "Private note for the organisers",
                  hints["private_note"]):
        assert words in script
    assert "only the organisers see it" not in script


async def test_organisers_read_the_private_notes_on_the_live_page(app, db):
    competition, _, _ = await _scored(db)
    async with new_client(app) as organiser:
        await sign_in(organiser, db)
        text = page_text(await organiser.get(f"/organiser/competitions/{competition.id}/live"))
    assert "Judges’ private notes" in text
    assert "Ladywood Larder · Judge Kemi" in text and "she knows the treasurer" in text


async def test_the_migration_keeps_every_comment_as_entrant_feedback(db_url):
    """Down to the revision before (the column was `comment`), then up again: the text is the feedback, the
    private note starts empty, and the sheet keeps its scores (SQLite copies the table to rename a column)."""
    database = Database(db_url)
    try:
        _, entrant, judge = await _scored(database)
    finally:
        await database.dispose()
    config = alembic_config(db_url)
    await asyncio.to_thread(command.downgrade, config, "5d2e8a1c7b40")
    try:
        database = Database(db_url)
        try:
            async with database.read() as session:
                before = (await session.execute(text("SELECT comment FROM judging_score_sheet"))).all()
            assert before == [(FEEDBACK,)]
        finally:
            await database.dispose()
    finally:
        await asyncio.to_thread(upgrade, db_url)
    database = Database(db_url)
    try:
        async with database.read() as session:
            after = (await session.execute(text(
                "SELECT feedback, private_note, (SELECT count(*) FROM judging_score s WHERE s.sheet_id = ss.id) "
                "FROM judging_score_sheet ss WHERE judge_id = :judge AND entrant_id = :entrant"),
                {"judge": judge.id, "entrant": entrant.id})).all()
    finally:
        await database.dispose()
    assert after == [(FEEDBACK, "", 5)]
