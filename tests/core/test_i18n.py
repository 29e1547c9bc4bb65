"""Languages (issue 17): the catalogues, the language choice rules, locale formatting, and the pages."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from kernel import i18n
from kernel.settings import PROJECT_ROOT
from kernel.web import london, london_range, pence
from tests.factories import make_event
from tests.ticketing.factories import make_ticket_type

BN = PROJECT_ROOT / "locales" / "bn" / "LC_MESSAGES" / "messages.po"
UR = PROJECT_ROOT / "locales" / "ur" / "LC_MESSAGES" / "messages.po"
# Templates whose strings are not wrapped yet (the organiser and judging pages: the next slice of issue 17)
NOT_YET = ("templates/judging/", "templates/events/form.html", "templates/door/")


def _catalogue(path: Path):
    with path.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict:
    """Every message in the code and templates now, extracted as `make messages` does (babel.cfg)."""
    pot = tmp_path_factory.mktemp("messages") / "messages.pot"
    pybabel = shutil.which("pybabel", path=str(Path(sys.executable).parent))
    subprocess.run([pybabel, "extract", "-F", "babel.cfg", "-k", "N_", "--no-wrap", "-o", str(pot),
                    "kernel", "events", "ticketing", "judging", "denhub", "templates"],
                   cwd=PROJECT_ROOT, check=True, capture_output=True)
    return {m.id: m for m in _catalogue(pot) if m.id}


@pytest.mark.parametrize("path", [BN, UR], ids=["bn", "ur"])
def test_every_message_in_the_code_is_in_the_catalogue(extracted, path):
    catalogue = {m.id for m in _catalogue(path) if m.id}
    missing = [msgid for msgid in extracted if msgid not in catalogue]
    assert not missing, f"run `make messages` and translate: {missing[:5]}"


@pytest.mark.parametrize("path", [BN, UR], ids=["bn", "ur"])
def test_no_message_is_untranslated_or_fuzzy(extracted, path):
    """Every message extracted today is in the attendee journey: all translated (Urdu too, for now)."""
    bad = []
    for message in _catalogue(path):
        if not message.id or message.id not in extracted:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            bad.append(message.id)
    assert not bad, bad[:5]


@pytest.mark.parametrize("path", [BN, UR], ids=["bn", "ur"])
def test_translations_keep_the_placeholders(path):
    for message in _catalogue(path):
        if not message.id or not message.string:
            continue
        english = " ".join(message.id) if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            assert i18n.placeholders(text) == i18n.placeholders(english), (message.id, text)
            for tag in ("<strong", "<a ", "</a>"):
                assert text.count(tag) == english.count(tag) or isinstance(message.id, tuple), (message.id, text)


# --- choosing a language -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "cookie", "account", "accept", "expected"), [
    ("ur", "bn", "en", "bn", ("ur", "query")),
    (None, "bn", "ur", "ur", ("bn", "cookie")),
    (None, None, "ur", "bn", ("ur", "account")),
    (None, None, None, "bn-BD,bn;q=0.9,en;q=0.8", ("bn", "header")),
    (None, None, None, "fr-FR, ur;q=0.5, bn;q=0.4", ("ur", "header")),
    (None, None, None, "fr, de", ("en", "default")),
    ("xx", "zz", "qq", "@@@;q=abc,,;;", ("en", "default")),  # unknown and malformed: English, no error
    ("BN", None, None, None, ("bn", "query")),
    ("bn-BD", None, None, None, ("bn", "query")),
    ("x" * 5000, None, None, "b" * 5000, ("en", "default")),
])
def test_choice_rules(query, cookie, account, accept, expected):
    assert i18n.choose(query, cookie, account, accept) == expected


def test_a_zero_quality_language_is_never_chosen():
    assert i18n.from_accept_language("bn;q=0, ur;q=0.1") == "ur"


def test_a_broken_placeholder_falls_back_to_english(tmp_path, monkeypatch):
    po = tmp_path / "xx" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "From %(price)s"\nmsgstr "De %(prix)s"\n\n'
                  'msgid "Sold out"\nmsgstr "Complet"\n\n'
                  'msgid "Few left"\nmsgstr "Presque %d"\n\n'
                  '#, fuzzy\nmsgid "Free"\nmsgstr "Gratuit"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.translations.cache_clear()
    monkeypatch.setattr(i18n, "_configured", ("en", "xx"))
    try:
        with i18n.language("xx"):
            assert i18n.gettext("From %(price)s", price="£3.00") == "From £3.00"
            assert i18n.gettext("Sold out") == "Complet"
            assert i18n.gettext("Few left") == "Few left"
            assert i18n.gettext("Free") == "Free"  # fuzzy: not used
    finally:
        i18n.translations.cache_clear()


def test_catalogues_are_compiled_once():
    first = i18n.translations("bn")
    assert i18n.translations("bn") is first


# --- formatting ----------------------------------------------------------------------------------------------

SAT = dt.datetime(2026, 11, 28, 18, 0, tzinfo=dt.UTC)
SUMMER = dt.datetime(2026, 7, 4, 13, 30, tzinfo=dt.UTC)  # 14:30 in London (BST)


def test_english_formats_are_unchanged():
    assert london(SAT) == "Sat 28 Nov 2026, 18:00"
    assert london_range(SAT, SAT + dt.timedelta(hours=2, minutes=30)) == "Sat 28 Nov 2026, 18:00 to 20:30"
    assert pence(350) == "£3.50" and pence(0) == "Free"


def test_bengali_dates_and_money_use_bengali_words_and_digits():
    with i18n.language("bn"):
        assert london(SAT) == "শনি ২৮ নভে ২০২৬, ১৮:০০"
        assert london(SUMMER, "%H:%M") == "১৪:৩০"  # British Summer Time
        assert pence(350) == "৩.৫০£"
        assert pence(123456) == "১,২৩৪.৫৬£"  # CLDR's Indian grouping for bn
        assert pence(0) == "বিনামূল্যে"
        assert i18n.ngettext("%(num)s person", "%(num)s people", 12) == "১২ জন"


def test_urdu_dates_and_money():
    with i18n.language("ur"):
        assert london(SAT) == "ہفتہ 28 نومبر 2026, 18:00"
        assert pence(350) == "£3.50"
        assert i18n.direction() == "rtl" and i18n.html_lang() == "ur"


def test_language_block_restores_the_previous_language():
    with i18n.language("bn"):
        with i18n.language("nonsense"):
            assert i18n.current() == "en"
        assert i18n.current() == "bn"
    assert i18n.current() == "en"


# --- pages ---------------------------------------------------------------------------------------------------

async def test_accept_language_bn_gives_a_bengali_listing(client, db):
    async with db.write() as session:
        event = await make_event(session, title="Bangla Month")
        await make_ticket_type(session, event, name="Community supper", tier="community", price_pence=300)
    page = await client.get("/", headers={"Accept-Language": "bn-BD,bn;q=0.9,en;q=0.5"})
    assert page.status_code == 200
    assert '<html lang="bn" dir="ltr">' in page.text
    assert "<h1>কী হচ্ছে</h1>" in page.text and "৩.০০£" in page.text and "Bangla Month" in page.text
    assert "set-cookie" not in page.headers  # only a choice made with the switch is remembered
    english = await client.get("/")
    assert '<html lang="en-GB" dir="ltr">' in english.text and "<h1>What’s on</h1>" in english.text
    assert "£3.00" in english.text  # the cached Bengali listing is not served to English visitors


async def test_lang_query_gives_urdu_right_to_left_and_is_remembered(client, db):
    async with db.write() as session:
        event = await make_event(session, title="Bangla Month")
    page = await client.get(f"/events/{event.slug}?lang=ur")
    assert page.status_code == 200
    assert '<html lang="ur" dir="rtl">' in page.text and "کب" in page.text
    assert "denhub_lang=ur" in page.headers["set-cookie"]
    again = await client.get(f"/events/{event.slug}", headers={"Accept-Language": "bn"})
    assert '<html lang="ur" dir="rtl">' in again.text  # the cookie beats Accept-Language
    # The switch keeps the visitor on this page, each language named in its own script.
    assert f'href="/events/{event.slug}?lang=en" lang="en-GB"' in page.text
    assert '>বাংলা</a>' in page.text and '>اردو</a>' in page.text and ">English</a>" in page.text


@pytest.mark.parametrize("headers", [
    {"Accept-Language": "!!!;q=x, ,;"}, {"Cookie": "denhub_lang=xx; other=\"unterminated"},
    {"Cookie": "denhub_lang=" + "b" * 4000}, {"Accept-Language": "bn;q=1e999"},
])
async def test_bad_language_input_never_fails(client, headers):
    page = await client.get("/?lang=%00%ff", headers=headers)
    assert page.status_code == 200 and "<html lang=" in page.text


async def test_error_pages_are_translated(client):
    page = await client.get("/no-such-page?lang=bn")
    assert page.status_code == 404 and "পাতাটি পাওয়া যায়নি" in page.text


async def test_a_signed_in_choice_is_kept_on_the_account(client, db):
    from sqlalchemy import select

    from kernel.accounts import Role, User
    from tests.core.helpers import sign_in

    user = await sign_in(client, db, Role.ADMIN)
    await client.get("/?lang=bn")
    async with db.read() as session:
        assert await session.scalar(select(User.language).where(User.id == user.id)) == "bn"
    client.cookies.delete("denhub_lang")  # another browser: the account's choice still holds
    page = await client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="bn"' in page.text


# --- what goes out in the language of the booking ------------------------------------------------------------

async def test_a_booking_made_in_bengali_gets_its_email_and_pdf_in_bengali(client, db):
    from pypdf import PdfReader
    from sqlalchemy import select

    from kernel.mail import OutboxMessage
    from tests.ticketing.factories import book
    from ticketing import emails
    from ticketing.models import Order

    async with db.write() as session:
        event = await make_event(session, title="Bangla Month supper")
        supper = await make_ticket_type(session, event, name="Supper", tier="community", price_pence=300)
    client.cookies.set("denhub_lang", "bn")
    booked = await book(client, event, [(supper.id, "রহিম উদ্দিন")], community_declaration="resident")
    assert booked.status_code == 303, booked.text[:500]
    client.cookies.delete("denhub_lang")  # the email is written later, whatever the visitor reads then
    async with db.read() as session:
        order = await session.scalar(select(Order))
        row = await session.scalar(select(OutboxMessage))
    assert order.language == "bn"
    assert row.subject == "আপনার টিকিট: Bangla Month supper"
    text, html = await emails.confirmation_body(db, row.body["args"])
    assert "বুকিং করার জন্য ধন্যবাদ।" in text and "অবস্থা:" in text and "৩.০০£" in text
    assert '<html lang="bn" dir="ltr">' in html
    _name, _mime, pdf = await emails.pdf_attachment(db, {"order_id": order.id})
    words = "".join(page.extract_text() for page in PdfReader(__import__("io").BytesIO(pdf)).pages)
    # pypdf cannot put shaped Bengali back together; the date in Bengali digits shows the PDF is in Bengali.
    assert re.search("[০-৯]{4}", words) and "Admit one" not in words
    assert i18n.current() == "en"  # nothing leaked into this (test) context


async def test_an_english_booking_still_gets_english(client, db):
    from sqlalchemy import select

    from kernel.mail import OutboxMessage
    from tests.ticketing.factories import book
    from ticketing import emails

    async with db.write() as session:
        event = await make_event(session, title="Nazrul songs")
        free = await make_ticket_type(session, event, name="Free entry")
    booked = await book(client, event, [(free.id, "Amina Khatun")])
    assert booked.status_code == 303
    async with db.read() as session:
        row = await session.scalar(select(OutboxMessage))
    assert row.subject == "Your tickets: Nazrul songs"
    text, _html = await emails.confirmation_body(db, row.body["args"])
    assert "Thank you for booking." in text


def test_the_sold_out_frame_is_kept_per_language():
    """render_framed keeps one frame per page and language: a Bengali visitor's sold-out page is not served to
    the next English one, even for the same key."""
    from types import SimpleNamespace

    from starlette.requests import Request

    from kernel.web import render_framed

    event = SimpleNamespace(id=99, slug="nazrul", title="Nazrul songs", starts_at=SAT)
    seat = SimpleNamespace(id=5, name="Seat")

    def answer(code: str) -> str:
        request = Request({"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": [],
                           "session": {"csrf": "token"}})
        request.state.user = None
        with i18n.language(code):
            return render_framed(request, "ticketing/sold_out.html",
                                 {"event": event, "waitlist_type": seat, "honeypot": "website", "message": "x"},
                                 key=(event.id, "x", seat.id), holes={"name": "A", "email": ""},
                                 status_code=409).body.decode()

    assert "<h1>টিকিট শেষ</h1>" in answer("bn")
    assert "<h1>Sold out</h1>" in answer("en")


@pytest.mark.parametrize("code", ["bn", "ur"])
async def test_the_attendee_journey_renders_in_each_language(client, db, code):
    """Event page, booking form (with its errors), booking, ticket page, cancel: every page answers in the
    chosen language, with none of the English it had."""
    from tests.conftest import csrf_from
    from tests.ticketing.factories import book, start_booking

    async with db.write() as session:
        event = await make_event(session, title="Bangla Month supper", capacity=40)
        pwyc = await make_ticket_type(session, event, name="Supper", tier="pay_what_you_can", price_pence=300,
                                      capacity=3)
        free = await make_ticket_type(session, event, name="Free entry")
    client.cookies.set("denhub_lang", code)
    english = ("When", "Where", "Tickets", "Your booking", "Continue to booking", "Only ", "Please correct",
               "Reference", "Cancel the whole booking", "Sign in", "What’s on")
    page = await client.get(f"/events/{event.slug}")
    assert page.status_code == 200 and f'<html lang="{code}"' in page.text
    details = await start_booking(client, event, {pwyc.id: 1})
    assert details.status_code == 200
    wrong = await client.post(f"/events/{event.slug}/register",
                              data={"csrf_token": csrf_from(details.text), "form_token": "x", "type_0": str(pwyc.id),
                                    "name_0": "", "price_0": "abc", "email": "nope"})
    assert wrong.status_code in (400, 422)
    booked = await book(client, event, [(free.id, "Amina Khatun")])
    assert booked.status_code == 303
    order = await client.get(booked.headers["location"])
    ticket_link = re.search(r'href="(/orders/[^"]+/tickets/[^"]+)"', order.text).group(1)
    ticket = await client.get(ticket_link)
    for response in (page, details, wrong, order, ticket):
        visible = re.sub(r"<[^>]+>", " ", response.text.split("<body>", 1)[1])
        leftovers = [word for word in english if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", visible)]
        assert not leftovers, (str(response.url), leftovers)


async def test_tickets_sent_again_by_an_organiser_reading_bengali_go_out_in_the_booking_language(client, db):
    from sqlalchemy import select

    from kernel.mail import OutboxMessage
    from tests.conftest import csrf_from
    from tests.core.helpers import sign_in
    from tests.ticketing.factories import book
    from ticketing.models import Order

    async with db.write() as session:
        event = await make_event(session, title="Nazrul songs")
        free = await make_ticket_type(session, event, name="Free entry")
    client.cookies.set("denhub_lang", "ur")
    assert (await book(client, event, [(free.id, "Amina Khatun")])).status_code == 303
    client.cookies.set("denhub_lang", "bn")  # the organiser, on another visit, reads Bengali
    await sign_in(client, db)
    async with db.read() as session:
        order = await session.scalar(select(Order))
    attendees = await client.get(f"/organiser/events/{event.id}/attendees")
    resent = await client.post(f"/organiser/orders/{order.id}/resend", data={"csrf_token": csrf_from(attendees.text)})
    assert resent.status_code == 303
    async with db.read() as session:
        subjects = list(await session.scalars(select(OutboxMessage.subject).order_by(OutboxMessage.id)))
    assert subjects == ["آپ کے ٹکٹ: Nazrul songs", "آپ کے ٹکٹ دوبارہ: Nazrul songs"]


async def test_a_waiting_list_offer_goes_out_in_the_language_of_the_person_who_joined(client, db, app):
    from sqlalchemy import select

    from kernel.mail import OutboxMessage
    from tests.core.helpers import new_client
    from tests.ticketing.test_waitlist import _cancel_ticket, _join, _sold_out_setup

    event, ticket_type, [ticket_path] = await _sold_out_setup(client, db)
    async with new_client(app, address="198.51.100.9") as waiting:
        waiting.cookies.set("denhub_lang", "bn")
        joined = await _join(waiting, event, ticket_type, "রহিম উদ্দিন", "rahim@example.org")
        assert joined.status_code == 303
        assert "অপেক্ষার তালিকায় আছেন (লাইনে ১ নম্বর)" in (await waiting.get(joined.headers["location"])).text
    assert (await _cancel_ticket(client, ticket_path)).status_code == 303  # the holder cancels, in English
    async with db.read() as session:
        offer = await session.scalar(select(OutboxMessage).where(OutboxMessage.to_addr == "rahim@example.org")
                                     .order_by(OutboxMessage.id.desc()).limit(1))
    assert offer.subject == "একটি জায়গা খালি হয়েছে: Bhangra workshop"
    assert "সুখবর, রহিম উদ্দিন: একটি জায়গা খালি হয়েছে।" in offer.text_body
    async with db.read() as session:
        joined_email = await session.scalar(select(OutboxMessage).where(OutboxMessage.to_addr == "rahim@example.org")
                                            .order_by(OutboxMessage.id).limit(1))
    assert joined_email.subject == "অপেক্ষার তালিকা: Bhangra workshop"
    assert "লাইনে আপনি ১ নম্বরে আছেন" in joined_email.text_body and "২৪ ঘণ্টা" in joined_email.text_body


async def test_pages_say_they_vary_by_language_and_scripts_data_do_not(client):
    """A shared cache must not hand one visitor's Bengali page to another who asked for English."""
    page = await client.get("/", headers={"Accept-Language": "bn"})
    assert page.status_code == 200 and 'lang="bn"' in page.text
    vary = [name.strip().lower() for name in page.headers["vary"].split(",")]
    assert "accept-language" in vary and "cookie" in vary and len(vary) == len(set(vary)), page.headers["vary"]
    again = await client.get("/events/past?lang=ur")  # a page that also sets the language cookie
    assert "accept-language" in again.headers["vary"].lower()
    health = await client.get("/healthz")
    assert "accept-language" not in health.headers.get("vary", "").lower()
