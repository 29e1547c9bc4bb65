"""Hot Core statements run straight on SQLite's own connection, inside a write transaction SQLAlchemy opened.

The door judges every scan with a handful of small Core statements (ticketing/checkin.py). On SQLite each
`Connection.execute` cost several times the statement itself: an execution context, events, a result
object, and a greenlet switch out to the async driver and back (AsyncSession.run_sync). `direct(conn)`
gives the same `execute(statement, params)` interface, run on the sqlite3 connection of `conn`'s
transaction with SQLAlchemy's own compiled SQL and its own type conversions (so values are stored and read
back exactly as through SQLAlchemy: UTC datetimes, booleans), and sqlite3's errors raised as SQLAlchemy's
(IntegrityError and the rest), so callers cannot tell the difference. Everywhere else (PostgreSQL, read
transactions, a statement with parameters expanded at run time) `direct` returns `conn` itself.

Only for statements built once (module constants): each one's compiled form is kept for the life of the
process, keyed by the statement object.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

from denhub.db import WRITE_OPTION


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the statement's parameters, in the order of its `?` placeholders
    fixed: dict  # values of parameters the statement carries itself (literals)
    binds: tuple[Callable | None, ...]  # SQLAlchemy's bind processor per placeholder
    row: type | None  # a SELECT's row class; None for INSERT/UPDATE/DELETE
    results: tuple[Callable | None, ...]  # SQLAlchemy's result processor per column


_plans: dict[tuple, _Plan | None] = {}


def _plan(statement: ClauseElement, dialect, keys: tuple[str, ...] | None) -> _Plan | None:
    cache_key = (statement, keys)
    try:
        return _plans[cache_key]
    except KeyError:
        pass
    try:
        plan = _compile(statement, dialect, keys)
    except (AttributeError, KeyError, TypeError):  # SQLAlchemy's internals moved: let SQLAlchemy run it
        plan = None
    _plans[cache_key] = plan
    return plan


def _compile(statement: ClauseElement, dialect, keys: tuple[str, ...] | None) -> _Plan | None:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
    plan = None
    names = tuple(compiled.positiontup or ())
    supported = (dialect.paramstyle == "qmark" and not compiled.post_compile_params
                 and not compiled.literal_execute_params and not getattr(compiled, "returning", None)
                 and (not compiled.isinsert or set(names) <= set(keys or ())))
    if supported:
        required = {name: None for name in names if compiled.binds[name].required}
        fixed = {name: value for name, value in compiled.construct_params(required).items() if name not in required}
        processors = compiled._bind_processors  # noqa: SLF001 - SQLAlchemy's own conversions, as it applies them
        row = results = None
        if compiled._result_columns:  # noqa: SLF001
            columns = compiled._result_columns  # noqa: SLF001
            fields = [column[0] for column in columns]
            row = _row_class(fields)
            results = tuple(column[3]._cached_result_processor(dialect, None) for column in columns)
        plan = _Plan(sql=compiled.string, names=names, fixed=fixed,
                     binds=tuple(processors.get(name) for name in names), row=row, results=results or ())
    return plan


def _row_class(fields: Sequence[str]) -> type:
    base = namedtuple("Row", fields, rename=True)  # noqa: PYI024 - rows are plain tuples with names

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


class DirectSQLite:
    """`execute(statement, params)` on the sqlite3 connection of a SQLAlchemy write transaction."""

    def __init__(self, conn: Connection, raw: sqlite3.Connection) -> None:
        self.conn = conn
        self.raw = raw
        self.engine = conn.engine
        self.dialect = conn.dialect

    def execute(self, statement: ClauseElement, params: dict | list[dict] | None = None) -> Result:
        many = isinstance(params, list)
        rows_in = params if many else [params or {}]
        keys = tuple(rows_in[0]) if statement.is_dml and rows_in else None
        plan = _plan(statement, self.dialect, keys)
        if plan is None:  # something this shortcut does not do: SQLAlchemy runs it
            result = self.conn.execute(statement, params)
            return Result(list(result) if result.returns_rows else [], result.rowcount)
        values = [self._values(plan, given) for given in rows_in]
        try:
            if many:
                cursor = self.raw.executemany(plan.sql, values)
                return Result([], cursor.rowcount)
            cursor = self.raw.execute(plan.sql, values[0])
            rows = []
            if plan.row is not None:
                make, results = plan.row._make, plan.results
                rows = [make([value if process is None or value is None else process(value)
                              for process, value in zip(results, raw_row, strict=True)])
                        for raw_row in cursor.fetchall()]
            return Result(rows, cursor.rowcount)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(plan.sql, values if many else values[0], exc, sqlite3.Error,
                                      dialect=self.dialect, ismulti=many) from exc

    @staticmethod
    def _values(plan: _Plan, given: dict) -> list:
        fixed = plan.fixed
        out = []
        for name, process in zip(plan.names, plan.binds, strict=True):
            value = given[name] if name in given else fixed[name]
            out.append(value if process is None else process(value))
        return out


def direct(conn: Connection) -> Connection | DirectSQLite:
    """`conn`, or on SQLite inside a write transaction (Database.write) the same transaction's sqlite3
    connection behind the same `execute` interface."""
    if conn.dialect.name != "sqlite" or not conn.get_execution_options().get(WRITE_OPTION):
        return conn
    raw = getattr(conn.connection.driver_connection, "_connection", None)
    if not isinstance(raw, sqlite3.Connection):
        return conn
    return DirectSQLite(conn, raw)
