"""Writing many voucher rows fast: multi-row INSERTs on SQLite, one COPY on PostgreSQL.

Generating 100,000 vouchers is dominated by per-value overhead. Of a voucher row's columns
only three differ from voucher to voucher (:data:`OWN_COLUMNS`); the rest are the batch's
(:data:`BATCH_COLUMNS`). Those are converted to the driver's form once, with the column types'
own bind processors, so what is stored is exactly what the ORM would have stored, and on
SQLite they are bound once per statement of many rows instead of once per row.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from sqlite3 import SQLITE_LIMIT_VARIABLE_NUMBER

from sqlalchemy.exc import DBAPIError

from shop.vouchers.models import Voucher

#: The values of each voucher, in the order the tuples given to a writer hold them.
OWN_COLUMNS = ("serial", "pin_hash", "pin_ciphertext")
#: The values every voucher of a batch shares, given once to :func:`voucher_writer`.
BATCH_COLUMNS = (
    "batch_id",
    "product_id",
    "agent_id",
    "status",
    "face_value",
    "cost",
    "currency",
    "data_mb",
    "validity_days",
    "pin_hash_key",
    "pin_key",
    "expires_at",
    "created_at",
    "sold_at",
    "sold_by_id",
)
#: At most this many rows go into one SQLite INSERT statement.
SQLITE_ROWS_PER_STATEMENT = 1_000

Writer = Callable[[Sequence[tuple]], None]


def bind_values(connection, values: dict) -> dict:
    """Return batch-wide values converted as their column types would convert them."""
    table = Voucher.__table__
    converted = {}
    for name, value in values.items():
        processor = (
            table.c[name].type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
        )
        converted[name] = processor(value) if processor and value is not None else value
    return converted


@contextmanager
def voucher_writer(connection, batch_values: dict) -> Iterator[Writer]:
    """Yield a function that inserts voucher rows inside the current transaction.

    ``batch_values`` holds every column of :data:`BATCH_COLUMNS`; each row given to the
    writer is a tuple in :data:`OWN_COLUMNS` order. Rows are stored in the order given, so
    their ids follow it. Database errors are SQLAlchemy's on every backend: a duplicate PIN
    hash or serial is an :class:`~sqlalchemy.exc.IntegrityError`.
    """
    converted = bind_values(connection, batch_values)
    shared = tuple(converted[name] for name in BATCH_COLUMNS)
    if connection.dialect.name == "postgresql":
        with _postgresql_copy(connection, shared) as write:
            yield write
    else:
        yield _sqlite_inserter(connection, shared)


@contextmanager
def _postgresql_copy(connection, shared: tuple) -> Iterator[Writer]:
    """One COPY for the whole batch: the server indexes rows while the next are being made."""
    import psycopg

    columns = ", ".join(OWN_COLUMNS + BATCH_COLUMNS)
    driver_connection = connection.connection.driver_connection
    try:
        with (
            driver_connection.cursor() as cursor,
            cursor.copy(f"COPY voucher ({columns}) FROM STDIN") as copy,
        ):

            def write(rows: Sequence[tuple]) -> None:
                write_row = copy.write_row
                for row in rows:
                    write_row(row + shared)

            yield write
    except psycopg.Error as exc:
        # Raised by the driver directly: present it as SQLAlchemy would (a duplicate as
        # IntegrityError), so callers such as the PIN-collision retry see one kind of error
        # on every backend.
        raise DBAPIError.instance("COPY voucher", None, exc, psycopg.Error) from exc


def _sqlite_inserter(connection, shared: tuple) -> Writer:
    """Return a writer of multi-row INSERTs whose shared values are bound once per statement.

    Each row of ``VALUES`` names the shared values as ``?1`` to ``?15`` and its own three as
    plain ``?``, which SQLite numbers on from there. Column names are the constants above,
    never input: no injection path.
    """
    driver_connection = connection.connection.driver_connection
    variable_limit = driver_connection.getlimit(SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = min(
        SQLITE_ROWS_PER_STATEMENT, (variable_limit - len(shared)) // len(OWN_COLUMNS)
    )
    columns = ", ".join(BATCH_COLUMNS + OWN_COLUMNS)
    placeholders = [f"?{number}" for number in range(1, len(shared) + 1)]
    placeholders += ["?"] * len(OWN_COLUMNS)
    one_row = f"({', '.join(placeholders)})"
    statements: dict[int, str] = {}

    def statement(rows: int) -> str:
        if rows not in statements:
            values = ", ".join([one_row] * rows)
            statements[rows] = f"INSERT INTO voucher ({columns}) VALUES {values}"  # noqa: S608
        return statements[rows]

    def write(rows: Sequence[tuple]) -> None:
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            parameters = list(shared)
            for row in part:
                parameters.extend(row)
            connection.exec_driver_sql(statement(len(part)), tuple(parameters))

    return write
