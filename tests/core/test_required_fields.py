"""Required fields are marked (#16 point 15): for the eye after the label, and on the control (`required`,
`aria-required`) for assistive technology; on every public form and the forms made with the field macros."""

from __future__ import annotations

import re

from tests.core.helpers import elements, sign_in
from tests.factories import make_event
from tests.ticketing.factories import make_ticket_type, start_booking

MARK = '<span class="required" aria-hidden="true">(required)</span>'


def _label(page: str, control_id: str) -> str:
    """The label's text with what follows it at once (a text field's mark sits just after its label)."""
    match = re.search(rf'<label for="{re.escape(control_id)}">(.*?</label>(?:\s*<span class="required"[^>]*>[^<]*</span>)?)',
                      page, re.DOTALL)
    assert match, f"no label for {control_id!r}"
    return match.group(1)


def _control(page: str, control_id: str) -> dict[str, str]:
    found = [attrs for tag, attrs in elements(page) if attrs.get("id") == control_id]
    assert found, f"no control {control_id!r}"
    return found[0]


def assert_required(page: str, *control_ids: str) -> None:
    for control_id in control_ids:
        attrs = _control(page, control_id)
        assert "required" in attrs and attrs.get("aria-required") == "true", (control_id, attrs)
        assert MARK in _label(page, control_id), (control_id, _label(page, control_id))


def assert_optional(page: str, *control_ids: str) -> None:
    for control_id in control_ids:
        attrs = _control(page, control_id)
        assert "required" not in attrs and "aria-required" not in attrs, (control_id, attrs)
        assert MARK not in _label(page, control_id)


async def test_login_form_marks_its_fields(client):
    page = (await client.get("/login")).text
    assert_required(page, "email", "password")


async def test_event_form_marks_required_fields_through_the_macro(db, client):
    await sign_in(client, db)
    page = (await client.get("/organiser/events/new")).text
    assert_required(page, "title", "venue_name", "starts_at", "ends_at")
    assert_optional(page, "slug", "summary", "venue_address", "capacity")


async def test_booking_details_and_waiting_list_mark_their_fields(db, client):
    async with db.write() as session:
        event = await make_event(session)
        open_type = await make_ticket_type(session, event, capacity=10)
        await make_ticket_type(session, event, name="Front row", capacity=0)
    details = (await start_booking(client, event, {open_type.id: 2})).text
    assert_required(details, "name_0", "name_1", "email", "consent")
    assert_optional(details, "organisation")
    event_page = (await client.get(f"/events/{event.slug}")).text
    wl = [attrs["id"] for tag, attrs in elements(event_page) if attrs.get("id", "").startswith("wl-")
          and tag == "input" and not attrs["id"].startswith("wl-website")]
    assert len(wl) == 3, wl  # name, email, consent of the sold-out type's waiting list
    assert_required(event_page, *wl)
