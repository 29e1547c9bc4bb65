"""Hot Core statements run straight on SQLite's own connection, inside a write transaction SQLAlchemy opened.

The door judges every scan with a handful of small Core statements (ticketing/checkin.py). On SQLite each
`Connection.execute` cost several times the statement itself: an execution context, events, a result
object, and a greenlet switch out to the async driver and back (AsyncSession.run_sync). `direct(conn)`
gives the same `execute(statement, params)` interface, run on the sqlite3 connection of `conn`'s
transaction with SQLAlchemy's own compiled SQL and its own type conversions (so values are stored and read
back exactly as through SQLAlchemy: UTC datetimes, booleans, JSON), and sqlite3's errors raised as SQLAlchemy's
(IntegrityError and the rest), so callers cannot tell the difference. Everywhere else (PostgreSQL, read
transactions, a statement with parameters expanded at run time) `direct` returns `conn` itself.

Only for statements built once (module constants): each one's compiled form is kept for the life of the
process, keyed by the statement object. Everything is taken from SQLAlchemy's public API: the statement compiled
for the dialect (its SQL, `positiontup`, `binds`, `construct_params`), each parameter's and each returned
column's type (`exported_columns`) with its `dialect_impl(dialect)`'s bind and result processors, the very
functions SQLAlchemy applies. tests/core/test_sqlite_parity.py runs every hot statement both ways and compares
what is stored and read, and fails if one of them stops running straight on SQLite.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

from kernel.db import WRITE_OPTION, Database, raw_sqlite


@dataclass
class _Plan:
    sql: str
    names: tuple[str, ...]  # the statement's parameters, in the order of its `?` placeholders
    fixed: dict  # values of parameters the statement carries itself (literals)
    binds: tuple[Callable | None, ...]  # SQLAlchemy's bind processor per placeholder
    returns_rows: bool  # a SELECT, or RETURNING
    results: tuple[Callable | None, ...]  # SQLAlchemy's result processor per column
    converts: bool = False  # whether any parameter has a bind processor
    plain: bool = False  # no result processor at all: rows are made straight from sqlite3's tuples
    # The row class, made when the statement first runs (see _row_class_for).
    row: type | None = field(default=None, compare=False)


_plans: dict[tuple, _Plan | None] = {}
MAX_PLANS = 1024  # a statement built per call (not meant for this) would otherwise grow the cache for ever


def _plan(statement: ClauseElement, dialect, keys: tuple[str, ...] | None) -> _Plan | None:
    cache_key = (statement, keys)
    try:
        return _plans[cache_key]
    except KeyError:
        pass
    if len(_plans) >= MAX_PLANS:
        _plans.clear()
    plan = _compile(statement, dialect, keys)
    _plans[cache_key] = plan
    return plan


def _selects_objects(statement: ClauseElement) -> bool:
    """A SELECT of mapped objects (select(Ticket)): its rows are ORM objects, which only SQLAlchemy makes."""
    if statement.is_dml or not hasattr(statement, "column_descriptions"):
        return False
    return any(d.get("entity") is not None and d.get("expr") is d.get("entity") for d in statement.column_descriptions)


def _compile(statement: ClauseElement, dialect, keys: tuple[str, ...] | None) -> _Plan | None:
    if _selects_objects(statement):
        return None
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
    names = tuple(compiled.positiontup or ())
    # Not: parameters expanded when run, or column defaults SQLAlchemy computes in Python as it executes (an
    # INSERT missing a column that has one, an UPDATE of a table with `onupdate`): those need its machinery.
    supported = (dialect.paramstyle == "qmark" and not compiled.post_compile_params
                 and not compiled.literal_execute_params
                 and not compiled.insert_prefetch and not compiled.update_prefetch
                 and (not compiled.isinsert
                      or {name for name in names if compiled.binds[name].required} <= set(keys or ())))
    if not supported or not hasattr(statement, "exported_columns"):  # text() without .columns(): rows unknown
        return None
    required = {name: None for name in names if compiled.binds[name].required}
    fixed = {name: value for name, value in compiled.construct_params(required).items() if name not in required}
    # SQLAlchemy's own conversions, as it applies them: each type's implementation for this dialect, for each
    # parameter and each column the statement returns (none for INSERT/UPDATE/DELETE without RETURNING).
    binds = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                    for column in statement.exported_columns)
    return _Plan(sql=compiled.string, names=names, fixed=fixed, binds=binds, returns_rows=bool(results),
                 results=results, converts=any(binds), plain=not any(results))


def _row_class_for(plan: _Plan, cursor: sqlite3.Cursor) -> type:
    """The rows' class, named as SQLAlchemy names them: as the compiled SQL does (a column's own name, or the
    label SQLAlchemy gives it: `count_1`, `id_1`), which is what sqlite3's cursor reports."""
    fields = [column[0] for column in cursor.description]
    if len(fields) != len(plan.results):
        raise RuntimeError(f"{len(fields)} columns where the statement has {len(plan.results)}: {plan.sql}")
    plan.row = _row_class(fields)
    return plan.row


def _row_class(fields: Sequence[str]) -> type:
    base = namedtuple("Row", fields, rename=True)

    class Row(base):
        __slots__ = ()

        @property
        def _mapping(self) -> dict:
            return dict(zip(self._fields, self, strict=True))

    return Row


class Result:
    """What callers use of SQLAlchemy's Result: first(), one(), scalar(), all(), rowcount."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list, rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self):
        return self._rows[0] if self._rows else None

    def one(self):
        if len(self._rows) != 1:
            from sqlalchemy.exc import MultipleResultsFound, NoResultFound

            raise NoResultFound("No row was found when one was required") if not self._rows else \
                MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self._rows[0]

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def all(self) -> list:
        return list(self._rows)


def _run(raw: sqlite3.Connection, plan: _Plan, params: dict | list[dict], dialect) -> Result:
    many = isinstance(params, list)
    values = [_values(plan, given) for given in params] if many else _values(plan, params)
    try:
        if many:
            cursor = raw.executemany(plan.sql, values)
            return Result([], cursor.rowcount)
        cursor = raw.execute(plan.sql, values)
        rows = []
        if plan.returns_rows:
            make = (plan.row or _row_class_for(plan, cursor))._make
            if plan.plain:
                rows = list(map(make, cursor.fetchall()))
            else:
                results = plan.results
                rows = [make([value if process is None or value is None else process(value)
                              for process, value in zip(results, raw_row, strict=True)])
                        for raw_row in cursor.fetchall()]
        return Result(rows, cursor.rowcount)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(plan.sql, values, exc, sqlite3.Error, dialect=dialect, ismulti=many) from exc


def _values(plan: _Plan, given: dict) -> list:
    if plan.fixed:
        fixed = plan.fixed
        values = [given[name] if name in given else fixed[name] for name in plan.names]
    else:
        values = [given[name] for name in plan.names]
    if plan.converts:
        values = [value if process is None else process(value) for process, value in zip(plan.binds, values)]
    return values


def _keys(statement: ClauseElement, params: dict | list[dict] | None) -> tuple[str, ...] | None:
    if not statement.is_dml:
        return None
    first = params[0] if isinstance(params, list) else params
    return tuple(first or ())


class DirectSQLite:
    """`execute(statement, params)` on the sqlite3 connection of a SQLAlchemy write transaction."""

    def __init__(self, conn: Connection, raw: sqlite3.Connection) -> None:
        self.conn = conn
        self.raw = raw
        self.engine = conn.engine
        self.dialect = conn.dialect

    def plan_for(self, statement: ClauseElement, params: dict | list[dict] | None) -> _Plan | None:
        """How to run `statement` with `params` here, or None when SQLAlchemy must (see _compile; an empty
        executemany; an executemany that would return rows, which sqlite3 cannot)."""
        many = isinstance(params, list)
        if many and not params:
            return None
        plan = _plan(statement, self.dialect, _keys(statement, params))
        return None if plan is None or (many and plan.returns_rows) else plan

    def run(self, plan: _Plan, params: dict | list[dict] | None) -> Result:
        return _run(self.raw, plan, params if isinstance(params, list) else (params or {}), self.dialect)

    def execute(self, statement: ClauseElement, params: dict | list[dict] | None = None) -> Result:
        plan = self.plan_for(statement, params)
        if plan is None:
            return _as_result(self.conn.execute(statement, params))
        return self.run(plan, params)


def direct(conn: Connection) -> Connection | DirectSQLite:
    """`conn`, or on SQLite inside a write transaction (Database.write) the same transaction's sqlite3
    connection behind the same `execute` interface."""
    if not conn.get_execution_options().get(WRITE_OPTION):
        return conn
    raw = raw_sqlite(conn)
    return conn if raw is None else DirectSQLite(conn, raw)


# --- reads outside a transaction ----------------------------------------------------------------------

_readers: weakref.WeakKeyDictionary[Database, dict[int, sqlite3.Connection]] = weakref.WeakKeyDictionary()


def read_now(db: Database, statement: ClauseElement, params: dict | None = None) -> list | None:
    """The rows of one SELECT, read at once on SQLite through a read-only connection of this thread (one
    statement is one consistent snapshot); None when this shortcut does not apply (PostgreSQL, an in-memory
    database, a statement it cannot run, or the database busy for a moment): the caller then reads through
    SQLAlchemy as usual. Nothing is awaited, so one connection per thread serves every request."""
    if not db.is_sqlite or statement.is_dml:
        return None
    dialect = db.engine.dialect
    plan = _plan(statement, dialect, None)
    if plan is None or not plan.returns_rows:
        return None
    raw = _reader(db)
    if raw is None:
        return None
    try:
        return _run(raw, plan, params or {}, dialect)._rows
    except OperationalError:  # locked or busy (SQLite says so at once: busy_timeout 0, see kernel.db)
        return None


def _reader(db: Database) -> sqlite3.Connection | None:
    per_thread = _readers.get(db)
    if per_thread is None:
        per_thread = _readers[db] = {}
        db.on_dispose(lambda: _close_readers(db))
    thread = threading.get_ident()
    raw = per_thread.get(thread)
    if raw is None:
        path = make_url(db.url).database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        raw = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        raw.execute("PRAGMA busy_timeout=0")
        raw.execute("PRAGMA query_only=1")
        per_thread[thread] = raw
    return raw


def _close_readers(db: Database) -> None:
    for raw in (_readers.pop(db, None) or {}).values():
        raw.close()


# --- from async code --------------------------------------------------------------------------------------

_RUNNER = "denhub_direct_runner"


async def execute(session: AsyncSession, statement: ClauseElement, params: dict | list[dict] | None = None) -> Result:
    """`session.execute(statement, params)` for a Core statement built once, as a Result (first, one, scalar,
    all, rowcount). On SQLite in a write transaction it runs straight on sqlite3 (see `direct`), after
    flushing what the session holds (as SQLAlchemy's autoflush would); elsewhere through SQLAlchemy."""
    sync_session = session.sync_session
    # The innermost transaction: a SAVEPOINT (begin_nested) is only emitted when it is first asked for its
    # connection, so a new one must be asked before its first statement runs here.
    transaction = sync_session.get_nested_transaction() or sync_session.get_transaction()
    cached = session.info.get(_RUNNER)
    if cached is not None and cached[0] is transaction and transaction is not None and transaction.is_active:
        runner = cached[1]
    else:
        runner = direct((await session.connection()).sync_connection)
        session.info[_RUNNER] = (sync_session.get_nested_transaction() or sync_session.get_transaction(), runner)
    plan = runner.plan_for(statement, params) if isinstance(runner, DirectSQLite) else None
    if plan is None:
        return _as_result(await session.execute(statement, params))
    if sync_session.new or sync_session.dirty or sync_session.deleted:
        await session.flush()
    return runner.run(plan, params)


def _as_result(result) -> Result:
    """SQLAlchemy's result (Core's CursorResult or the ORM's) as a Result: the rows read now."""
    rows = result.all() if getattr(result, "returns_rows", True) else []
    return Result(rows, getattr(result, "rowcount", -1))
