"""Every hot statement that kernel.sqlite_direct runs straight on sqlite3 stores and reads exactly what SQLAlchemy
would, and stays on the fast path: each runs on the same data both ways (in a savepoint rolled back after each),
and the rows it returns (values, their types, their names), its row count and the raw stored rows of the
table it writes are compared. A statement that stopped running straight on SQLite fails here, not silently
in a benchmark."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import inspect
import json
import pathlib
import re
import secrets
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.sql.expression import Executable

from judging import sheets
from judging.models import Criterion, Score, ScoreSheet
from kernel import auth, ratelimit
from kernel.accounts import open_session
from kernel.db import raw_sqlite
from kernel.mail import outbox
from kernel.sqlite_direct import DirectSQLite, direct, read_now
from kernel.tokens import hash_token
from tests.factories import make_event, make_user
from tests.judging.factories import make_competition, make_entrant, make_judge, score
from tests.ticketing.factories import make_ticket_type
from ticketing import booking_state, checkin, door_access, inventory, services

# Not UTC and with microseconds: the conversion to SQLite's stored text is part of what is compared.
AT = dt.datetime(2026, 12, 5, 20, 15, 30, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
LATER = AT + dt.timedelta(minutes=5)


async def _world(db) -> dict:
    """An event with a ticket type, an order of two tickets (the first admitted at LATER, and its scan recorded),
    a competition on it with a judge's scored draft sheet and an empty one, and a few counted actions."""
    async with db.write() as session:
        event = await make_event(session, category="pitch_night")
        ticket_type = await make_ticket_type(session, event, capacity=40)
        req = services.RegistrationRequest(lines=[services.TicketLine(ticket_type.id, "Amina Khatun"),
                                                  services.TicketLine(ticket_type.id, "Dev Patel")],
                                           email="amina@example.org", form_token=secrets.token_urlsafe(24))
        order, _ = await services.register(session=session, event_id=event.id, req=req)
        ticket, not_in = sorted(order.tickets, key=lambda t: t.id)
        ticket.checked_in_at, ticket.checked_in_device, ticket.inside = LATER, "Gate phone", True
        await session.flush()
        await session.run_sync(lambda s: s.connection().execute(checkin._RECORD, _scan(event.id, ticket.id, "seen")))
        competition = await make_competition(session, event=event)
        entrant = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        await score(session, competition, judge, entrant, 3, submit=False)
        sheet = await session.scalar(select(ScoreSheet).where(ScoreSheet.entrant_id == entrant.id))
        empty = ScoreSheet(competition_id=competition.id, judge_id=judge.id,
                           entrant_id=(await make_entrant(session, competition)).id, status="draft", feedback="",
                           unlock_reason="", updated_at=AT)
        session.add(empty)
        await session.flush()
        scores = list(await session.scalars(select(Score).where(Score.sheet_id == sheet.id).order_by(Score.id)))
        criteria = list(await session.scalars(select(Criterion).where(Criterion.competition_id == competition.id)
                                              .order_by(Criterion.id)))
        for key in ("203.0.113.9", "203.0.113.9", "198.51.100.1"):
            await ratelimit.record(session=session, bucket=booking_state.REGISTER_BUCKET, key=key)
        return {"event": event.id, "slug": event.slug, "type": ticket_type.id, "order": order.id, "form_token": req.form_token,
                    "ticket": ticket.id, "code": ticket.code, "not_in": not_in.id, "competition": competition.id, "entrant": entrant.id,
                    "judge": judge.id, "sheet": sheet.id, "empty_sheet": empty.id, "scores": [s.id for s in scores], "criteria": [c.id for c in criteria]}


def _scan(event_id: int, ticket_id: int | None, scan_id: str, **changes) -> dict:
    return {"event_id": event_id, "ticket_id": ticket_id, "scanned_text": "DH1.x", "verdict": "admitted",
            "direction": "in", "device": "Gate phone", "gate": "North", "scanned_at": AT, "recorded_at": LATER,
            "client_scan_id": scan_id, "offline": True, "duplicate": False, **changes}


def _order(w: dict) -> dict:
    return {"event_id": w["event"], "code": secrets.token_hex(8), "reference": "DH-PARITY", "form_token": "parity-token",
                "email": "b@example.org", "buyer_name": "Bilal", "access_needs": "", "organisation": "", "community_declaration": "",
                "status": "confirmed", "total_pence": 0, "consent_at": AT, "paid_at": None, "paid_note": "", "created_at": AT,
                "cancelled_at": None}


def _ticket(w: dict) -> dict:
    return {"code": secrets.token_hex(6), "order_id": w["order"], "event_id": w["event"], "ticket_type_id": w["type"],
                "attendee_name": "Chen Wei", "price_pence": 0, "status": "valid", "created_at": AT, "cancelled_at": None,
                "checked_in_at": None, "checked_in_device": "", "checked_in_gate": "", "inside": False}


def _outbox(w: dict) -> dict:
    return {"message_id": secrets.token_hex(16), "to_addr": "amina@example.org", "subject": "Your tickets",
                "text_body": "", "html_body": None, "body": {"provider": "tickets", "args": {"order_id": w["order"]}},
                "attachments": [{"provider": "ics", "args": {"event_id": w["event"]}}], "status": "pending", "attempts": 0,
                "next_attempt_at": AT, "last_error": None, "claimed_until": None, "sent_at": None, "created_at": AT}


def _audit(w: dict, n: int) -> dict:
    return {"competition_id": w["competition"], "actor_id": w["judge"], "at": AT, "action": "score.set",
            "subject": f"Enterprise: criterion {n}", "old": n, "new": {"value": n, "was": None}}


# (statement, its parameters for the world), as the code runs it. Every one runs straight on SQLite.
CASES: dict[str, tuple[object, Callable[[dict], dict | list[dict]]]] = {
    "door: access": (door_access._ACCESS, lambda w: {"event_id": w["event"], "user_id": 0, "organiser_id": 0}),
    "door: ticket by code": (checkin._TICKET_BY_CODE, lambda w: {"code": w["code"]}),
    "door: ticket by id": (checkin._TICKET_BY_ID, lambda w: {"id": w["ticket"]}),
    "door: ticket by id, locked": (checkin._TICKET_BY_ID_LOCKED, lambda w: {"id": w["ticket"]}),
    "door: ticket by typed code": (checkin._TICKET_BY_TYPED_CODE,
                                   lambda w: {"event_id": w["event"], "code": w["code"].lower()}),
    "door: what an order owes": (checkin._ORDER_DUE, lambda w: {"order_id": w["order"]}),
    "door: event key": (checkin._EVENT_KEY, lambda w: {"event_id": w["event"]}),
    "door: previous scan": (checkin._PREVIOUS, lambda w: {"client_scan_id": "seen"}),
    "door: state": (checkin._STATE, lambda w: {"ticket_id": w["ticket"]}),
    "door: recorded among": (checkin._RECORDED_AMONG, lambda w: {"scan_ids": json.dumps(["seen", "unseen"])}),
    "door: first admission": (checkin._FIRST_ADMISSION,
                              lambda w: {"ticket_id": w["not_in"], "at": AT, "by": "Phone 2", "at_gate": ""}),
    "door: back in": (checkin._BACK_IN, lambda w: {"ticket_id": w["not_in"]}),
    "door: earlier admission": (checkin._EARLIER_ADMISSION,
                                lambda w: {"ticket_id": w["ticket"], "at": AT, "by": "Phone 2", "at_gate": "South"}),
    "door: now a duplicate": (checkin._NOW_DUPLICATE, lambda w: {"of_ticket": w["ticket"], "at": AT - dt.timedelta(1)}),
    "door: out": (checkin._OUT, lambda w: {"ticket_id": w["ticket"]}),
    "door: record a scan": (checkin._RECORD, lambda w: _scan(w["event"], w["ticket"], "new")),
    "door: record scans": (checkin._RECORD, lambda w: [_scan(w["event"], w["ticket"], "new-1"),
                                                       _scan(w["event"], None, None, verdict="forged", offline=False,
                                                             duplicate=True)]),
    "booking: event and order": (services._EVENT_AND_ORDER, lambda w: {"event_id": w["event"],
                                                                       "form_token": w["form_token"]}),
    "booking: one type": (services._ONE_TYPE, lambda w: {"event_id": w["event"], "form_token": "new-token",
                                                         "type_id": w["type"]}),
    "booking: claim type": (inventory._CLAIM_TYPE, lambda w: {"claim_type": w["type"], "claim_event": w["event"],
                                                              "claim_n": 2}),
    "booking: claim event": (inventory._CLAIM_EVENT, lambda w: {"claim_event": w["event"], "claim_total": 2}),
    "booking: order": (services._INSERT_ORDER, _order),
    "booking: ticket": (services._INSERT_TICKET, _ticket),
    "booking: outbox": (outbox._INSERT_OUTBOX, _outbox),
    "rate: count": (ratelimit._COUNT, lambda w: {"bucket": booking_state.REGISTER_BUCKET, "key": "203.0.113.9",
                                                 "since": AT - dt.timedelta(days=3650), "up_to": 30}),
    "rate: record": (ratelimit._INSERT, lambda w: {"bucket": "parity", "key": "203.0.113.9", "at": AT}),
    "rate: record under the limit": (ratelimit._RECORD_UNDER, lambda w: {
        "bucket": booking_state.REGISTER_BUCKET, "key": "198.51.100.1", "at": AT,
        "since": AT - dt.timedelta(days=3650), "up_to": 30}),
    "judging: competition": (sheets._COMPETITION_STATE, lambda w: {"competition_id": w["competition"]}),
    "judging: target": (sheets._TARGET, lambda w: {"competition_id": w["competition"], "judge_id": w["judge"],
                                                   "entrant_id": w["entrant"]}),
    "judging: sheet": (sheets._SHEET, lambda w: {"judge_id": w["judge"], "entrant_id": w["entrant"]}),
    "judging: set scores": (sheets._SET_SCORE, lambda w: [{"score_id": s, "new_value": 4} for s in w["scores"]]),
    "judging: add scores": (sheets._ADD_SCORE, lambda w: [{"sheet_id": w["empty_sheet"], "criterion_id": c,
                                                           "value": n} for n, c in enumerate(w["criteria"])]),
    "judging: set sheet": (sheets._SET_SHEET, lambda w: {"sheet_id": w["sheet"], "new_feedback": "Strong",
                                                         "new_private_note": "", "new_updated_at": AT, "new_status": "submitted",
                                                         "new_submitted_at": AT}),
    "judging: audit": (sheets._ADD_AUDIT, lambda w: [_audit(w, 1), _audit(w, 2)]),
}


def _outcome(session, statement, params, *, fast: bool) -> dict:
    """What the statement returns and leaves stored, run in a savepoint that is then rolled back."""
    nested = session.begin_nested()
    try:
        conn = session.connection()
        runner = direct(conn) if fast else conn
        if fast:
            assert isinstance(runner, DirectSQLite) and runner.plan_for(statement, params) is not None, \
                "no longer runs straight on SQLite"
        result = runner.execute(statement, params)
        outcome = {}
        if len(statement.exported_columns):
            rows = result.all()
            outcome["rows"] = [(tuple(row), row._fields, [type(v) for v in row], dict(row._mapping)) for row in rows]
        if statement.is_dml:
            if not len(statement.exported_columns):  # a RETURNING's row count is the driver's (SQLAlchemy 2.0: -1)
                outcome["rowcount"] = result.rowcount
            table = statement.table.name
            outcome["stored"] = raw_sqlite(conn).execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        return outcome
    finally:
        nested.rollback()


async def test_each_hot_statement_straight_on_sqlite_stores_and_reads_what_sqlalchemy_does(sqlite_db):
    world = await _world(sqlite_db)
    differ, empty = [], []
    for case, (statement, params_for) in CASES.items():
        params = params_for(world)
        async with sqlite_db.write() as session:
            theirs = await session.run_sync(_outcome, statement, params, fast=False)
            ours = await session.run_sync(_outcome, statement, params, fast=True)
        if ours != theirs:
            differ.append((case, ours, theirs))
        if not (theirs.get("rows") or theirs.get("rowcount", 0) > 0):
            empty.append(case)  # the case would prove nothing: a SELECT must find rows, a write change some
    assert differ == []
    assert empty == []


async def _read_now_as_sqlalchemy_reads(db, statement, params) -> list:
    """The rows read_now gives, after checking they are what SQLAlchemy reads (values, names, types)."""
    ours = read_now(db, statement, params)
    assert ours is not None, "no longer read straight on SQLite"
    async with db.read() as session:
        theirs = (await session.execute(statement, params)).all()
    assert [(tuple(r), r._fields, [type(v) for v in r]) for r in ours] == \
        [(tuple(r), r._fields, [type(v) for v in r]) for r in theirs]
    return ours


async def test_a_booking_states_read_straight_on_sqlite_is_what_sqlalchemy_reads(sqlite_db):
    world = await _world(sqlite_db)
    params = {"slug": world["slug"], "form_token": world["form_token"], "address": "203.0.113.9",
              "since": AT - dt.timedelta(days=3650), "up_to": 30}
    ours = await _read_now_as_sqlalchemy_reads(sqlite_db, booking_state._STATE, params)
    assert ours[0].existing_code is not None and ours[0].used == 2


async def test_a_signed_in_accounts_read_straight_on_sqlite_is_what_sqlalchemy_reads(sqlite_db):
    async with sqlite_db.write() as session:
        user = await make_user(session)
        sid = await open_session(session=session, user=user)
    params = {"token_hash": hash_token(sid), "uid": user.id}
    ours = await _read_now_as_sqlalchemy_reads(sqlite_db, auth._SIGNED_IN_USER, params)
    assert ours[0].email == user.email


# Run through SQLAlchemy by design: an IN list expanded when run, ORM objects, an executemany returning rows.
_THROUGH_SQLALCHEMY = (services._TYPES, services._INSERT_TICKETS, checkin._MOVED_SINCE, booking_state._TYPES)


def _modules_with_fast_paths() -> list:
    """Every module of the app's packages that uses kernel.sqlite_direct."""
    root = pathlib.Path(__file__).resolve().parents[2]
    found = []
    for package in sorted(p.parent for p in root.glob("*/__init__.py") if p.parent.name not in ("tests", "bench")):
        for path in sorted(package.rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            if name != "kernel.sqlite_direct" and re.search(r"\bsqlite_direct\b", path.read_text()):
                found.append(importlib.import_module(name))
    return found


def test_every_statement_those_modules_run_is_compared_here_or_left_to_sqlalchemy():
    """A statement constant that a module with fast paths runs (`….execute(_X, …)`, `read_now(db, _X, …)`)
    is in CASES above (or said to go through SQLAlchemy), so a new hot statement cannot skip the comparison."""
    known = {id(statement) for statement, _ in CASES.values()} | {id(s) for s in _THROUGH_SQLALCHEMY}
    known.add(id(booking_state._STATE))
    known.add(id(auth._SIGNED_IN_USER))
    modules = _modules_with_fast_paths()
    assert {checkin, door_access, services, sheets, outbox, ratelimit} <= set(modules)
    unknown = []
    for module in modules:
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if callee not in ("execute", "read_now"):
                continue
            for name in (n for arg in node.args for n in ast.walk(arg) if isinstance(n, ast.Name)):
                found = getattr(module, name.id, None)
                if isinstance(found, Executable) and id(found) not in known:
                    unknown.append(f"{module.__name__}.{name.id}")
    assert unknown == []
