"""Bad input never causes a 500: oversized, malformed, mis-typed or missing data gets a 4xx and a message."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from events.models import Event
from tests.conftest import csrf_for, login
from tests.core.helpers import assert_error_page, event_form, new_client, page_text, sign_in
from tests.core.routes import PARAM_RE, walk
from tests.factories import PASSWORD, make_event, make_user

MB = 1024 * 1024


def assert_refused_with_message(response, allowed=range(400, 500)) -> None:
    """A 4xx page that tells the person what went wrong."""
    status = response.status_code
    assert status in allowed, (status, response.text[:1000])
    text = page_text(response)
    if status == 422:  # a form shown again with its problems listed
        summary = re.search(r'<div class="error-summary".*?<li><a href="#\w+">([^<]+)</a>', text, re.DOTALL)
        assert summary and summary.group(1).strip(), text[:3000]
    elif status in (401, 429):  # the sign-in form with its message
        assert re.search(r'id="login-error">[^<]{10,}</div>', text), text[:3000]
    else:
        assert_error_page(response, status)
        detail = re.search(r'<h1 id="error-title">[^<]+</h1>\s*<p>([^<]{10,})</p>', text)
        assert detail, text[:3000]


def multipart(fields: dict[str, bytes | str], boundary: str = "denhubfuzz") -> tuple[bytes, dict[str, str]]:
    """A hand-made multipart body, so fields can hold any bytes (httpx would encode them as UTF-8)."""
    body = b""
    for name, value in fields.items():
        raw = value if isinstance(value, bytes) else value.encode()
        body += (
            (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n').encode()
            + raw
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


async def _events(db) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count(Event.id)))


# --- /login ------------------------------------------------------------------------------------------


async def test_login_survives_bad_input(app, db):
    async with db.write() as session:
        user = await make_user(session)
    async with new_client(app) as client:
        token = await csrf_for(client)
        cases = {
            "huge email": {
                "data": {"email": "a" * 500_000 + "@example.org", "password": "x", "csrf_token": token}
            },
            "huge password": {
                "data": {"email": user.email, "password": "p" * 1_500_000, "csrf_token": token}
            },
            "nul in email": {
                "data": {"email": f"{user.email}\x00", "password": "wrong", "csrf_token": token}
            },
            "nul in password": {"data": {"email": user.email, "password": "a\x00b" * 5, "csrf_token": token}},
            "invalid utf-8 (urlencoded)": {
                "content": f"email=%FF%FE%80@example.org&password=%C3%28&csrf_token={token}".encode(),
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            "invalid utf-8 (multipart)": dict(
                zip(
                    ("content", "headers"),
                    multipart(
                        {"email": b"\xff\xfe\x80@example.org", "password": b"\xc3\x28", "csrf_token": token}
                    ),
                )
            ),
            "missing fields": {"data": {"csrf_token": token}},
            "utf-8 encoded surrogates": {
                "content": f"email=%ED%A0%80@example.org&password=%ED%BF%BF&csrf_token={token}".encode(),
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            "json body": {
                "json": {"email": user.email, "password": PASSWORD},
                "headers": {"x-csrf-token": token},
            },
            "text/plain body": {
                "content": f"email={user.email}&csrf_token={token}".encode(),
                "headers": {"content-type": "text/plain"},
            },
            "multipart without boundary": {
                "content": b"garbage",
                "headers": {"content-type": "multipart/form-data"},
            },
            "broken multipart": {
                "content": b"--x\r\nnot a part header\r\n\r\n",
                "headers": {"content-type": "multipart/form-data; boundary=x"},
            },
            "field over the size limit": {"data": {"email": "e" * (3 * MB), "csrf_token": token}},
            "repeated fields": {
                "content": f"email=a&email=b&password=1&password=2&csrf_token={token}".encode(),
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
        }
        for name, kwargs in cases.items():
            response = await client.post("/login", **kwargs)
            assert response.status_code != 500, name
            assert_refused_with_message(response)
        # None of that signed anyone in, and a real sign-in still works.
        assert (await client.get("/account")).status_code == 303
        assert (
            await client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
        ).status_code == 303


# --- the organiser's event forms ---------------------------------------------------------------------------

# Odd but harmless input that may be saved (as text decoded as Latin-1, or U+FFFD): no 500 either way.
MAY_BE_SAVED = {
    "invalid utf-8",
    "utf-8 encoded surrogates",
    "capacity with spaces and signs",
    "nul in the text",
}


def _event_cases(token: str) -> dict[str, dict]:
    form = event_form()

    def unique(name: str) -> dict:  # a slug of its own, so an accepted case does not clash with the next
        return {**form, "slug": re.sub(r"[^a-z0-9]+", "-", name).strip("-")}

    return {
        "huge title": {"data": {**form, "title": "T" * 200_000, "csrf_token": token}},
        "every field huge": {"data": {**{k: "x" * 30_000 for k in form}, "csrf_token": token}},
        "field over the size limit": {"data": {**form, "description": "d" * (3 * MB), "csrf_token": token}},
        "nul characters": {
            "data": {
                **form,
                "title": "Film\x00night",
                "venue_name": "\x00",
                "description": "a\x00b",
                "slug": "nul\x00slug",
                "csrf_token": token,
            }
        },
        "nul in the text": {
            "data": {
                **unique("nul text"),
                "title": "Film\x00night",
                "summary": "\x00",
                "description": "**a**\x00b",
                "csrf_token": token,
            }
        },
        "invalid utf-8": dict(
            zip(
                ("content", "headers"),
                multipart(
                    {
                        **unique("invalid utf-8"),
                        "title": b"Caf\xe9 \xff\xfe night",
                        "venue_name": b"\x80\x81",
                        "csrf_token": token,
                    }
                ),
            )
        ),
        "utf-8 encoded surrogates": dict(
            zip(
                ("content", "headers"),
                multipart({**unique("surrogates"), "title": b"\xed\xa0\x80 night", "csrf_token": token}),
            )
        ),
        "missing fields": {"data": {"csrf_token": token}},
        "only a title": {"data": {"title": "Just a title", "csrf_token": token}},
        "title sent as a file": {
            "data": {**{k: v for k, v in form.items() if k != "title"}, "csrf_token": token},
            "files": {"title": ("title.txt", b"A title", "text/plain")},
        },
        "json body": {"json": form, "headers": {"x-csrf-token": token}},
        "text/plain body": {
            "content": b"title=x",
            "headers": {"content-type": "text/plain", "x-csrf-token": token},
        },
        "broken multipart": {
            "content": b"--x\r\nnonsense",
            "headers": {"content-type": "multipart/form-data; boundary=x", "x-csrf-token": token},
        },
        "absurd dates": {
            "data": {
                **form,
                "starts_at": "99999-01-01T00:00",
                "ends_at": "2026-02-30T25:61",
                "csrf_token": token,
            }
        },
        "huge capacity": {"data": {**form, "capacity": "9" * 5000, "csrf_token": token}},
        "capacity with spaces and signs": {
            "data": {**unique("capacity"), "capacity": " +1_0 ", "csrf_token": token}
        },
        "unknown category": {"data": {**form, "category": "<script>", "csrf_token": token}},
        "not an image": {
            "data": {**form, "csrf_token": token},
            "files": {"image": ("photo.jpg", b"\x89PNG\r\n\x1a\n truncated", "image/png")},
        },
    }


@pytest.mark.parametrize("target", ["new", "edit"])
async def test_event_forms_survive_bad_input(db, client, target):
    async with db.write() as session:
        existing = await make_event(session, title="Untouched")
    path = "/organiser/events/new" if target == "new" else f"/organiser/events/{existing.id}/edit"
    await sign_in(client, db)
    token = await csrf_for(client)
    saved = 0
    for name, kwargs in _event_cases(token).items():
        response = await client.post(path, **kwargs)
        assert response.status_code != 500, name
        if name in MAY_BE_SAVED and response.status_code == 303:
            saved += 1
            continue
        assert_refused_with_message(response)
    async with db.read() as session:
        titles = list(await session.scalars(select(Event.title)))
    assert len(titles) == (1 + saved if target == "new" else 1)
    assert not any("\x00" in title for title in titles)
    if saved == 0:
        assert titles == ["Untouched"]
    # Whatever was saved, every page that shows events still works.
    for page in ("/", "/organiser/events", "/events/past"):
        assert (await client.get(page)).status_code == 200, page


async def test_extreme_but_valid_dates_do_not_break_pages(db, client):
    await sign_in(client, db)
    token = await csrf_for(client)
    response = await client.post(
        "/organiser/events/new",
        data={
            **event_form(slug="far-away", starts_at="0001-01-01T00:00", ends_at="9999-12-31T23:59"),
            "csrf_token": token,
        },
    )
    assert response.status_code in (303, 422), response.text[:500]
    if response.status_code == 303:
        for path in (
            "/events/far-away",
            response.headers["location"],
            "/organiser/events",
            "/events/far-away/calendar.ics",
        ):
            assert (await client.get(path)).status_code == 200, path
    else:
        assert_refused_with_message(response)


# --- addresses that cannot match anything ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/events/%00",
        "/events/a%00b/calendar.ics",
        "/events/%00/image",
        "/events/" + "x" * 5000,
        "/events/%FF%FE",
        "/events/past?page=%00",
        "/events/past?page=99999999999999999999999",
        "/?category=%00",
        "/login?next=%00",
    ],
)
async def test_odd_public_addresses(client, path):
    response = await client.get(path)
    assert response.status_code < 500, (path, response.status_code)
    if response.status_code >= 400:
        assert_refused_with_message(response)


@pytest.mark.parametrize(
    "path",
    [
        "/organiser/events/99999999999999999999/edit",
        "/organiser/events/2147483648/edit",
        "/organiser/events/0/edit",
    ],
)
async def test_odd_organiser_addresses(db, client, path):
    await sign_in(client, db)
    assert_error_page(await client.get(path), 404)
    token = await csrf_for(client)
    for action in ("edit", "publish", "cancel"):
        response = await client.post(path.replace("/edit", f"/{action}"), data={"csrf_token": token})
        assert_error_page(response, 404)


async def test_every_route_survives_impossible_path_values(app, db):
    """Ids beyond what the database holds and slugs with NUL in them are a 404, on every route, for anyone."""
    endpoints = [e for e in walk(app.routes)[0] if PARAM_RE.search(e.path)]
    assert len(endpoints) >= 6
    async with new_client(app) as organiser:
        await sign_in(organiser, db)
        token = await csrf_for(organiser)
        cookies = httpx.Cookies(organiser.cookies)
    for endpoint in endpoints:
        for number, text in ((2**31, "a%00b"), (10**30, "%00")):
            url = PARAM_RE.sub(
                lambda m, n=number, t=text: str(n) if m.group(2) == "int" else t, endpoint.path
            )
            for method in endpoint.methods:
                async with new_client(app, cookies=cookies) as client:
                    data = {"csrf_token": token} if method == "POST" else None
                    response = await client.request(method, url, data=data)
                assert response.status_code < 500, (method, url, response.status_code)
                if response.status_code == 404 and method != "HEAD":
                    assert_refused_with_message(response)


# --- numbers typed into forms, query strings and JSON bodies --------------------------------------------

HUGE = "999999999999"  # over PostgreSQL's Integer: the database refuses the query instead of finding nothing


async def _judging_night(db) -> dict:
    """A competition with one accepted entrant and a judge, its event's checked-in ticket, and the ids."""
    from judging import votes
    from tests.judging.factories import criteria, make_competition, make_entrant, make_judge, make_tickets

    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        ticket = (await make_tickets(session, competition.event_id, 1))[0]
        rubric = await criteria(session, competition)
        await votes.open_voting(session=session, competition=competition, actor_id=None)
    rows = {}  # the rubric form as the page fills it in
    for i, c in enumerate(rubric):
        rows |= {f"id_{i}": str(c.id), f"key_{i}": c.key, f"name_{i}": c.name,
                 f"description_{i}": c.description, f"weight_{i}": str(c.weight),
                 f"scale_min_{i}": str(c.scale_min), f"scale_max_{i}": str(c.scale_max),
                 f"position_{i}": str(c.position)}
    return {"c": competition.id, "e": entrant.id, "event": competition.event_id, "judge": judge,
            "ticket": ticket.code, "criterion": rubric[0].id, "rubric": rows}


def _number_cases() -> dict[str, tuple]:
    """name: (who, method, path, what to send, statuses allowed, words the answer must hold)."""
    new_entrant = {"name": "Ama Owusu", "enterprise": "Kept Enterprise", "pitch": "Repair cafés",
                   "social_mission": "Less waste.", "contact_email": "ama@example.org"}
    rubric_row = {"name_0": "Kept criterion"}  # over the first row of the rubric as the page shows it
    cases = {}
    for label, number in (("huge", HUGE), ("negative", "-1"), ("superscript", "²")):
        cases |= {
            f"vote for a {label} entrant": (
                "public", "POST", "/judging/vote/{c}", {"data": {"ticket": "{ticket}", "entrant": number}},
                {422}, ["Choose one of the entrants", "{ticket}"]),
            f"a competition for a {label} event": (
                "admin", "POST", "/organiser/competitions/new",
                {"data": {"event_id": number, "name": "Kept competition name", "pitch_minutes": "5"}},
                {422}, ["Choose", "Kept competition name"]),
            f"an entrant in a {label} round": (
                "admin", "POST", "/organiser/competitions/{c}/entrants/new",
                {"data": {**new_entrant, "round_id": number}}, {422}, ["rounds", "Kept Enterprise"]),
            f"a {label} criterion id in the rubric": (
                "admin", "POST", "/organiser/competitions/{c}/rubric",
                {"data": {**rubric_row, "id_0": number}},
                {422}, ["Kept criterion"]),
            f"score sheets for a {label} judge": (
                "admin", "GET", "/organiser/competitions/{c}/score-sheets.pdf",
                {"params": {"judge": number}},
                {400}, ["Choose a judge by their number"]),
            f"attendees of a {label} ticket type": (
                "admin", "GET", "/organiser/events/{event}/attendees", {"params": {"type": number}},
                {400}, ["ticket type number"]),
            f"a {label} door staff account": (
                "admin", "POST", "/organiser/events/{event}/door/staff", {"data": {"user_id": number}},
                {422}, ["door staff"]),
            f"a {label} score on the form": (
                "judge", "POST", "/judging/{c}/entrants/{e}",
                {"data": {"c{criterion}": number, "action": "save", "feedback": "Kept feedback"}},
                {422}, ["Kept feedback"]),
            f"a {label} criterion number in the script's save": (
                "judge", "POST", "/judging/{c}/entrants/{e}", {"json": {"values": {number: 5}}},
                {422}, ["criterion"]),
        }
    cases["a huge score in the script's save"] = (
        "judge", "POST", "/judging/{c}/entrants/{e}", {"json": {"values": {"{criterion}": int(HUGE) ** 3}}},
        {422}, ["is scored from"])
    cases["a huge criterion position"] = (
        "admin", "POST", "/organiser/competitions/{c}/rubric",
        {"data": {**rubric_row, "position_0": HUGE}},
        {422}, ["Kept criterion", "up to 9 digits"])
    cases["a huge running-order position"] = (
        "admin", "POST", "/organiser/competitions/{c}/running-order", {"data": {"order_{e}": HUGE}},
        {422}, ["up to 9 digits"])
    cases["a huge criterion scale"] = (
        "admin", "POST", "/organiser/competitions/{c}/rubric",
        {"data": {**rubric_row, "scale_min_0": HUGE, "scale_max_0": str(int(HUGE) + 5)}},
        {422}, ["Kept criterion", "up to 9 digits"])
    return cases


def _fill(value, ids: dict):
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {_fill(k, ids): _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", list(_number_cases()))
async def test_numbers_no_row_can_have_are_a_clear_4xx(app, db, case):
    """Ids and whole numbers beyond the database's Integer (or negative, or not ASCII digits) in form fields,
    query strings and JSON bodies: a 4xx that says what is wrong, keeping what was typed; never a 500."""
    who, method, path, kwargs, statuses, words = _number_cases()[case]
    night = await _judging_night(db)
    ids = {k: v for k, v in night.items() if k not in ("judge", "rubric")}
    async with new_client(app) as client:
        if who == "admin":
            await sign_in(client, db)
        elif who == "judge":
            assert (await login(client, night["judge"].email, PASSWORD)).status_code == 303
        token = await csrf_for(client)
        kwargs = _fill(kwargs, ids)
        if path.endswith("/rubric"):
            kwargs["data"] = {**night["rubric"], **kwargs["data"]}
        if "data" in kwargs:
            kwargs["data"] = {**kwargs["data"], "csrf_token": token}
        elif "json" in kwargs:
            kwargs["headers"] = {"x-csrf-token": token}
        response = await client.request(method, _fill(path, ids), **kwargs)
    assert response.status_code in statuses, (case, response.status_code, response.text[:2000])
    text = page_text(response)
    for word in words:
        assert _fill(word, ids) in text, (case, word, text[:3000])
