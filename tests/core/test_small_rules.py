"""Small rules found in review: strict whole numbers, name length, the demo festival's year."""

import datetime as dt

import pytest

from denhub.demo import programme
from events.forms import whole_number
from kernel.accounts import AccountError, create_user


@pytest.mark.parametrize("text", ["1_0", "-5", "+5", " 5", "5.0", "٥", "1e3", "", "0", "100001", "9" * 12])
def test_whole_number_refuses_anything_but_plain_digits_in_range(text):
    with pytest.raises(ValueError):
        whole_number(text, 1, 100_000)


def test_whole_number_accepts_plain_digits():
    assert whole_number("150", 1, 100_000) == 150


async def test_names_over_120_characters_are_refused(db):
    async with db.write() as session:
        with pytest.raises(AccountError, match="120"):
            await create_user(session=session, email="long@example.org", name="N" * 121, role="organiser",
                              password="a long enough password")


@pytest.mark.parametrize(("now", "year"), [
    (dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC), 2026),
    (dt.datetime(2026, 11, 30, 17, 59, tzinfo=dt.UTC), 2026),
    (dt.datetime(2026, 11, 30, 18, 1, tzinfo=dt.UTC), 2027),
    (dt.datetime(2027, 3, 1, tzinfo=dt.UTC), 2027),
])
def test_demo_festival_is_this_years_until_it_ends(now, year):
    festival = programme(now)[0]
    assert festival["slug"] == f"bangla-month-{year}"
    assert festival["ends_at"] > now
