"""Door check-in verdicts, first-scan-wins, replays and races, on SQLite and PostgreSQL."""

import asyncio
import datetime as dt
import secrets

from sqlalchemy import func, select

from kernel.db import utcnow
from tests.factories import make_event
from tests.ticketing.factories import make_ticket_type
from ticketing import checkin, door_reports, services
from ticketing.checkin import Verdict
from ticketing.models import CheckIn, EventKey, Ticket
from ticketing.outputs import qr_payload
from ticketing.signing import generate_keypair, sign_ticket


async def _book(db, event, ticket_type, name="Amina Khatun"):
    req = services.RegistrationRequest(lines=[services.TicketLine(ticket_type.id, name)], email="a@example.org",
                                       community_declaration="resident", form_token=secrets.token_urlsafe(24))
    async with db.write() as session:
        order, _ = await services.register(session=session, event_id=event.id, req=req)
        ticket = await session.scalar(select(Ticket).where(Ticket.order_id == order.id))
        key = await session.get(EventKey, event.id)
        return ticket, qr_payload(key, ticket), order


async def _scan(db, event, text, **kw):
    async with db.write() as session:
        return await checkin.scan(session=session, event_id=event.id, text=text, **kw)


async def _setup(db, **type_overrides):
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, **type_overrides)
    return event, ticket_type


async def test_admitted_then_already_checked_in_with_time_and_device(db):
    event, tt = await _setup(db)
    ticket, payload, _ = await _book(db, event, tt)
    first = await _scan(db, event, payload, device="Phone A", gate="Garden gate")
    assert first.verdict == Verdict.ADMITTED and first.ticket.attendee_name == "Amina Khatun"
    again = await _scan(db, event, payload, device="Phone B")
    assert again.verdict == Verdict.ALREADY_CHECKED_IN
    assert again.first_device == "Phone A" and again.first_gate == "Garden gate"
    assert again.first_checked_in_at is not None
    by_code = await _scan(db, event, ticket.code)  # manual entry of the printed code
    assert by_code.verdict == Verdict.ALREADY_CHECKED_IN


async def test_cancelled_unpaid_wrong_event_unknown_forged(db):
    event, tt = await _setup(db)
    paid_type = None
    async with db.write() as session:
        paid_type = await make_ticket_type(session, event, name="Standard", tier="standard", price_pence=1200)
        other = await make_event(session)
        other_type = await make_ticket_type(session, other)
    ticket, payload, _ = await _book(db, event, tt)
    async with db.write() as session:
        t = await session.get(Ticket, ticket.id)
        await services.cancel_tickets(session=session, tickets=[t])
    assert (await _scan(db, event, payload)).verdict == Verdict.CANCELLED

    _unpaid, unpaid_payload, order = await _book(db, event, paid_type)
    result = await _scan(db, event, unpaid_payload)
    assert result.verdict == Verdict.UNPAID and result.as_json()["ticket"]["unpaid"] is True
    async with db.write() as session:
        o = await services.get_order_by_id(session=session, order_id=order.id)
        await services.mark_paid(session=session, order=o)
    assert (await _scan(db, event, unpaid_payload)).verdict == Verdict.ADMITTED

    _, other_payload, _ = await _book(db, other, other_type)
    assert (await _scan(db, event, other_payload)).verdict == Verdict.WRONG_EVENT

    for junk in ["", "hello world", "DH1.garbage", "x" * 600, "DH1." + "A" * 20 + "." + "B" * 86, "🙂🙂"]:
        assert (await _scan(db, event, junk)).verdict == Verdict.UNKNOWN, junk
    assert (await _scan(db, event, "abcdefghijkl")).verdict == Verdict.UNKNOWN  # well-formed but no such code

    # Signed with a key that is not the event's: forged. Tampered claims: forged.
    private, _public = generate_keypair()
    fake = sign_ticket(private, ticket_code=ticket.code, event_id=event.id, ticket_type_id=tt.id, initials="AK")
    assert (await _scan(db, event, fake)).verdict == Verdict.FORGED
    prefix, claims, sig = payload.split(".")
    tampered = ".".join([prefix, claims[:-2] + ("A" if claims[-2] != "A" else "B") + claims[-1], sig])
    assert (await _scan(db, event, tampered)).verdict in (Verdict.FORGED, Verdict.UNKNOWN)


async def test_check_out_and_re_entry(db):
    event, tt = await _setup(db)
    _, payload, _ = await _book(db, event, tt)
    assert (await _scan(db, event, payload, direction="out")).verdict == Verdict.NOT_INSIDE
    assert (await _scan(db, event, payload)).verdict == Verdict.ADMITTED
    assert (await _scan(db, event, payload, direction="out")).verdict == Verdict.CHECKED_OUT
    assert (await _scan(db, event, payload)).verdict == Verdict.READMITTED
    assert (await _scan(db, event, payload)).verdict == Verdict.ALREADY_CHECKED_IN
    async with db.read() as session:
        [total] = [c for c in await door_reports.counts(session=session, event_id=event.id) if c.ticket_type_id is None]
    assert (total.expected, total.checked_in, total.inside) == (1, 1, 1)


async def test_replayed_offline_scan_counts_once_and_earliest_scan_wins(db):
    event, tt = await _setup(db)
    ticket, payload, _ = await _book(db, event, tt)
    now = utcnow()
    online = await _scan(db, event, payload, device="Online phone", client_scan_id="dev1-1", now=now)
    assert online.verdict == Verdict.ADMITTED
    earlier = now - dt.timedelta(minutes=5)
    offline = await _scan(db, event, payload, device="Offline phone", scanned_at=earlier, client_scan_id="dev2-1",
                          offline=True)
    # The offline scan was first: it is the admission, and the online one (told "admitted" at the time) is
    # now the duplicate.
    assert offline.verdict == Verdict.ADMITTED
    replay = await _scan(db, event, payload, device="Offline phone", scanned_at=earlier, client_scan_id="dev2-1",
                         offline=True)
    assert replay.verdict == Verdict.ADMITTED and replay.detail == "Already synced."
    assert replay.first_device == "Offline phone"
    async with db.read() as session:
        t = await session.get(Ticket, ticket.id)
        assert t.checked_in_device == "Offline phone"  # the earlier (offline) scan is the first admission
        assert abs((t.checked_in_at - earlier).total_seconds()) < 1 and t.inside
        assert await session.scalar(select(func.count(CheckIn.id)).where(CheckIn.client_scan_id == "dev2-1")) == 1
        rows = {r.client_scan_id: r for r in await session.scalars(select(CheckIn).where(CheckIn.ticket_id == t.id))}
        dups = await door_reports.duplicates(session=session, event_id=event.id)
        [total] = [c for c in await door_reports.counts(session=session, event_id=event.id) if c.ticket_type_id is None]
    assert rows["dev2-1"].duplicate is False and rows["dev1-1"].duplicate is True
    assert [d.device for d in dups] == ["Online phone"]
    assert (total.checked_in, total.inside) == (1, 1)

    # An even earlier offline scan takes over again; the one that had been first becomes a duplicate too.
    earliest = now - dt.timedelta(minutes=9)
    assert (await _scan(db, event, payload, device="Third phone", scanned_at=earliest, client_scan_id="dev3-1",
                        offline=True)).verdict == Verdict.ADMITTED
    async with db.read() as session:
        dups = await door_reports.duplicates(session=session, event_id=event.id)
        assert (await session.get(Ticket, ticket.id)).checked_in_device == "Third phone"
    assert sorted(d.device for d in dups) == ["Offline phone", "Online phone"]


async def test_two_devices_scan_the_same_ticket_at_the_same_moment(db):
    event, tt = await _setup(db)
    _, payload, _ = await _book(db, event, tt)

    async def device(name):
        async with db.write() as session:
            return (await checkin.scan(session=session, event_id=event.id, text=payload, device=name)).verdict

    verdicts = await asyncio.gather(*(device(f"Phone {i}") for i in range(8)))
    assert verdicts.count(Verdict.ADMITTED) == 1
    assert verdicts.count(Verdict.ALREADY_CHECKED_IN) == 7


# --- the door's writer (ticketing.checkin_writer): on SQLite, scans that arrive together commit together --

async def test_scans_arriving_together_are_each_judged_in_arrival_order(db):
    from ticketing import checkin_writer

    event, tt = await _setup(db)
    booked = [await _book(db, event, tt, name=f"Guest {i}") for i in range(6)]
    _, _forger_public = generate_keypair()
    texts = [payload for _, payload, _ in booked]
    # each ticket twice (the second is a duplicate), a forged code, an unknown code, one replayed scan id
    scans = [*texts, *texts, texts[0].rsplit(".", 1)[0] + ".AAAA", "NOSUCHCODE123"]
    results = await asyncio.gather(*(
        checkin_writer.scan_idempotent(db, event_id=event.id, text=text, device="Gate", client_scan_id=f"g-{i}")
        for i, text in enumerate(scans)))
    replay = await checkin_writer.scan_idempotent(db, event_id=event.id, text=texts[1], client_scan_id="g-1")
    verdicts = [r.verdict for r in results]
    for i in range(6):  # each ticket admitted once; the other scan of it told so
        assert sorted([verdicts[i], verdicts[i + 6]]) == sorted([Verdict.ADMITTED, Verdict.ALREADY_CHECKED_IN])
    if db.is_sqlite:  # one group, judged in the order the scans arrived
        assert verdicts[:6] == [Verdict.ADMITTED] * 6
    assert verdicts[12] in (Verdict.UNKNOWN, Verdict.FORGED) and verdicts[13] == Verdict.UNKNOWN
    assert replay.verdict == verdicts[1] and replay.detail == "Already synced."
    async with db.read() as session:
        rows = await session.scalar(select(func.count(CheckIn.id)).where(CheckIn.event_id == event.id))
        admitted = await session.scalar(select(func.count(Ticket.id)).where(
            Ticket.event_id == event.id, Ticket.checked_in_at.is_not(None)))
    assert rows == len(scans) and admitted == 6


async def test_replays_arriving_in_a_group_with_new_scans_are_answered_as_recorded(db):
    """A phone resending scans already recorded, together with new ones: the group looks the recorded ids up
    in one query (SQLite) and answers them as first recorded; only the new scan is written."""
    from ticketing import checkin_writer

    event, tt = await _setup(db)
    booked = [await _book(db, event, tt, name=f"Guest {i}") for i in range(3)]
    texts = [payload for _, payload, _ in booked]
    first = await asyncio.gather(*(checkin_writer.scan_idempotent(db, event_id=event.id, text=texts[i],
                                                                   client_scan_id=f"r-{i}") for i in range(2)))
    group = [("r-0", texts[0]), ("r-new", texts[2]), ("r-1", texts[1]), ("r-new-2", texts[0])]
    again = await asyncio.gather(*(checkin_writer.scan_idempotent(db, event_id=event.id, text=text,
                                                                   client_scan_id=scan_id) for scan_id, text in group))
    assert [r.verdict for r in first] == [Verdict.ADMITTED, Verdict.ADMITTED]
    assert (again[0].verdict, again[0].detail) == (Verdict.ADMITTED, "Already synced.")
    assert (again[2].verdict, again[2].detail) == (Verdict.ADMITTED, "Already synced.")
    assert again[1].verdict == Verdict.ADMITTED and again[1].detail != "Already synced."
    assert again[3].verdict == Verdict.ALREADY_CHECKED_IN  # a new scan of a ticket inside: a duplicate
    async with db.read() as session:
        assert await session.scalar(select(func.count(CheckIn.id)).where(CheckIn.event_id == event.id)) == 4


async def test_the_same_scan_id_twice_in_one_group_is_recorded_once(db):
    from ticketing import checkin_writer

    event, tt = await _setup(db)
    _, payload, _ = await _book(db, event, tt)
    first, second = await asyncio.gather(*(
        checkin_writer.scan_idempotent(db, event_id=event.id, text=payload, client_scan_id="same-id")
        for _ in range(2)))
    assert first.verdict == second.verdict == Verdict.ADMITTED  # the second is the first's answer, replayed
    async with db.read() as session:
        assert await session.scalar(select(func.count(CheckIn.id)).where(CheckIn.client_scan_id == "same-id")) == 1


async def test_a_scan_that_fails_does_not_spoil_the_others_in_its_group(db, monkeypatch):
    from ticketing import checkin_writer

    event, tt = await _setup(db)
    booked = [await _book(db, event, tt, name=f"Guest {i}") for i in range(3)]
    real_judge = checkin_writer.judge

    def judge(session, **scan):
        if scan["text"] == "EXPLODE":
            raise RuntimeError("a bug in one scan")
        return real_judge(session, **scan)

    monkeypatch.setattr(checkin_writer, "judge", judge)
    monkeypatch.setattr(checkin, "judge", judge)
    texts = [booked[0][1], "EXPLODE", booked[1][1], booked[2][1]]
    results = await asyncio.gather(*(
        checkin_writer.scan_idempotent(db, event_id=event.id, text=text, client_scan_id=f"f-{i}")
        for i, text in enumerate(texts)), return_exceptions=True)
    assert isinstance(results[1], RuntimeError)
    assert [r.verdict for r in (results[0], results[2], results[3])] == [Verdict.ADMITTED] * 3
    async with db.read() as session:
        assert await session.scalar(select(func.count(CheckIn.id)).where(CheckIn.event_id == event.id)) == 3


async def test_a_scan_id_of_another_event_is_refused_never_answered_with_its_attendee(db):
    from ticketing import checkin_writer

    event_a, type_a = await _setup(db)
    event_b, type_b = await _setup(db)
    _, payload_a, _ = await _book(db, event_a, type_a, name="Amina Khatun")
    ticket_b, payload_b, _ = await _book(db, event_b, type_b, name="Rahim Uddin")
    assert (await _scan(db, event_a, payload_a, client_scan_id="same-1", offline=True)).verdict == Verdict.ADMITTED
    for answer in (
        await _scan(db, event_b, payload_b, client_scan_id="same-1", offline=True),
        await checkin_writer.scan_idempotent(db, event_id=event_b.id, text=payload_b, client_scan_id="same-1"),
        (await checkin_writer.scan_many(db, [{"event_id": event_b.id, "text": payload_b, "offline": True,
                                              "client_scan_id": "same-1"}]))[0],
    ):
        assert answer.verdict == Verdict.REJECTED and answer.ticket is None
        assert "another event" in answer.detail and "Amina" not in str(answer.as_json())
    async with db.read() as session:
        assert (await session.get(Ticket, ticket_b.id)).checked_in_at is None
        assert await session.scalar(select(func.count(CheckIn.id)).where(CheckIn.event_id == event_b.id)) == 0


async def _inside(db, event):
    async with db.read() as session:
        [total] = [c for c in await door_reports.counts(session=session, event_id=event.id) if c.ticket_type_id is None]
    return total.checked_in, total.inside


async def test_offline_scans_synced_late_do_not_undo_later_movements(db):
    """Offline scans are judged by when they were made against the ticket's recorded ins and outs."""
    event, tt = await _setup(db)
    now = utcnow()
    at = {n: now - dt.timedelta(minutes=60 - 10 * n) for n in range(6)}  # T0 < T1 < ... < T5 = now - 10 min

    # Scanned in offline at T0; admitted online at T1 and checked out at T2; the T0 scan syncs after. It was
    # the first admission (first scan wins), but the person left at T2: not inside.
    ticket, payload, _ = await _book(db, event, tt, name="Guest 1")
    assert (await _scan(db, event, payload, device="Online", now=at[1])).verdict == Verdict.ADMITTED
    assert (await _scan(db, event, payload, direction="out", now=at[2])).verdict == Verdict.CHECKED_OUT
    late = await _scan(db, event, payload, device="Offline", scanned_at=at[0], client_scan_id="o-1", offline=True)
    assert late.verdict == Verdict.ADMITTED and late.as_json()["inside"] is False  # the phone learns they left
    assert await _inside(db, event) == (1, 0)

    # Scanned in offline at T3, while inside (admitted T1), checked out online at T4: a late scan, no re-entry.
    _ticket2, payload2, _ = await _book(db, event, tt, name="Guest 2")
    assert (await _scan(db, event, payload2, now=at[1])).verdict == Verdict.ADMITTED
    assert (await _scan(db, event, payload2, direction="out", now=at[4])).verdict == Verdict.CHECKED_OUT
    late = await _scan(db, event, payload2, device="Offline", scanned_at=at[3], client_scan_id="o-2", offline=True)
    assert late.verdict == Verdict.LATE and not late.verdict.ok and "not counted" in late.headline
    assert await _inside(db, event) == (2, 0)

    # Out online at T1 and back in at T3; a check-out made offline at T2 syncs after: older than the T3
    # entry, so they are still inside.
    _ticket3, payload3, _ = await _book(db, event, tt, name="Guest 3")
    assert (await _scan(db, event, payload3, now=at[0])).verdict == Verdict.ADMITTED
    assert (await _scan(db, event, payload3, direction="out", now=at[1])).verdict == Verdict.CHECKED_OUT
    assert (await _scan(db, event, payload3, now=at[3])).verdict == Verdict.READMITTED
    late = await _scan(db, event, payload3, direction="out", scanned_at=at[2], client_scan_id="o-3", offline=True)
    assert late.verdict == Verdict.LATE
    assert await _inside(db, event) == (3, 1)

    # A real re-entry made offline after the last recorded exit still counts.
    _ticket4, payload4, _ = await _book(db, event, tt, name="Guest 4")
    assert (await _scan(db, event, payload4, now=at[0])).verdict == Verdict.ADMITTED
    assert (await _scan(db, event, payload4, direction="out", now=at[1])).verdict == Verdict.CHECKED_OUT
    back = await _scan(db, event, payload4, scanned_at=at[2], client_scan_id="o-4", offline=True)
    assert back.verdict == Verdict.READMITTED
    out = await _scan(db, event, payload4, direction="out", scanned_at=at[3], client_scan_id="o-5", offline=True)
    assert out.verdict == Verdict.CHECKED_OUT
    assert await _inside(db, event) == (4, 1)

    async with db.read() as session:
        rows = {r.client_scan_id: r for r in await session.scalars(
            select(CheckIn).where(CheckIn.event_id == event.id, CheckIn.client_scan_id.is_not(None)))}
        dups = await door_reports.duplicates(session=session, event_id=event.id)
        first = await session.get(Ticket, ticket.id)
    assert [rows[f"o-{i}"].duplicate for i in range(1, 6)] == [False, True, True, False, False]
    assert first.checked_in_device == "Offline" and not first.inside
    assert {(d.attendee_name, d.verdict) for d in dups} == {
        ("Guest 1", "admitted"), ("Guest 2", "late"), ("Guest 3", "late")}
