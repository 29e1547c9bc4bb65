"""render_framed gives byte for byte the page render() gives (the sold-out answer in a booking rush)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from starlette.requests import Request

from kernel.web import render, render_framed

EVENT = SimpleNamespace(id=7, slug="bangla-month-opening", title="Bangla Month: opening night & <music>",
                        starts_at=dt.datetime(2026, 11, 28, 18, 30, tzinfo=dt.UTC))
FREE = SimpleNamespace(id=3, name="Free entry")


def _request(csrf: str, *, user=None, flash=None) -> Request:
    session = {"csrf": csrf} | ({"flash": flash} if flash else {})
    request = Request({"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": [],
                       "session": session})
    request.state.user = user
    return request


def _both(request_args: dict, holes: dict[str, str], waitlist_type=FREE, message="Sorry, sold out."):
    context = {"event": EVENT, "waitlist_type": waitlist_type, "honeypot": "website", "message": message}
    key = (EVENT.id, message, waitlist_type and waitlist_type.id)
    framed = render_framed(_request(**request_args), "ticketing/sold_out.html", context, key=key, holes=holes,
                           status_code=409)
    full = render(_request(**request_args), "ticketing/sold_out.html", {**context, **holes}, status_code=409)
    return framed, full


def test_each_answer_is_the_page_rendered_in_full_with_its_own_values():
    answers = [
        ("csrf-one", {"name": "Amina Khatun", "email": "amina@example.org"}),
        ("csrf-two", {"name": 'Rahim "R" <b>Uddin</b> & co', "email": "r'o@example.org"}),  # escaped as Jinja does
        ("csrf-three", {"name": "আমিনা খাতুন", "email": ""}),
    ]
    for csrf, holes in answers:
        framed, full = _both({"csrf": csrf}, holes)
        assert framed.status_code == full.status_code == 409
        assert framed.body == full.body
        assert csrf.encode() in framed.body and holes["email"].replace("'", "&#39;").encode() in framed.body
    assert b"Rahim &#34;R&#34; &lt;b&gt;Uddin&lt;/b&gt; &amp; co" not in framed.body  # the last answer's own
    assert "আমিনা খাতুন".encode() in framed.body
    # the other variant of the page (no waiting list) is a frame of its own
    framed, full = _both({"csrf": "csrf-four"}, {"name": "Jo", "email": "jo@example.org"}, waitlist_type=None,
                         message="Only 1 “Free entry” ticket left.")
    assert framed.body == full.body and b"waitlist" not in framed.body


def test_a_signed_in_visitor_or_a_pending_flash_gets_the_page_in_full():
    organiser = SimpleNamespace(id=1, role="organiser", name="Nadia Organiser")
    framed, full = _both({"csrf": "csrf-five", "user": organiser}, {"name": "Nadia", "email": "n@example.org"})
    assert framed.body == full.body and b"Nadia Organiser" in framed.body  # the nav shows who is signed in
    framed, full = _both({"csrf": "csrf-six", "flash": [["info", "Signed out."]]}, {"name": "A", "email": "a@b.org"})
    assert b"Signed out." in framed.body and framed.body == full.body
