"""Backups: one consistent snapshot of the database and the uploaded files, and restoring it.

A backup is one uncompressed tar file (`clientsflow-YYYYmmdd-HHMMSS.tar`) holding:

- `database.sqlite3` (SQLite, taken with the online backup API) or `database.pgdump`
  (PostgreSQL, `pg_dump --format=custom`, which compresses on its own);
- `media/...`, the files under MEDIA_ROOT when it is set and exists;
- `manifest.json`: when (UTC), which engine, the applied migrations per app, every table's row
  count in the snapshot, and each file's size and SHA-256;
- `manifest.json.sha256`, the SHA-256 of the manifest itself.

The tar is left uncompressed on purpose: a damaged byte then shows up as a checksum mismatch on
the member it hit, rather than as an opaque decompression error.

Row counts and migrations are read from the same snapshot that is dumped (the backup file for
SQLite; an exported REPEATABLE READ snapshot that `pg_dump --snapshot` shares for PostgreSQL), so
the manifest describes exactly what the archive holds even while the app keeps writing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.apps import apps
from django.conf import settings
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

FORMAT_VERSION = 1
ARCHIVE_SUFFIX = ".tar"
MANIFEST_NAME = "manifest.json"
MANIFEST_CHECKSUM_NAME = "manifest.json.sha256"
DATABASE_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
MEDIA_PREFIX = "media/"
CHUNK = 1024 * 1024

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what to do next."""


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    created_at: str
    engine: str
    database_file: str
    migrations: dict[str, list[str]]
    row_counts: dict[str, int]
    media: dict[str, Any]
    files: list[FileEntry] = field(default_factory=list)
    format: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT_VERSION:
                raise BackupError(
                    f"This backup has format {data.get('format')!r}; this version of ClientsFlow reads "
                    f"format {FORMAT_VERSION}. Restore it with the version that wrote it."
                )
            files = [FileEntry(**entry) for entry in data.pop("files")]
            return cls(files=files, **data)
        except BackupError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BackupError(f"The backup's manifest cannot be read ({exc}); the file is not a ClientsFlow backup.")

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    @property
    def media_files(self) -> list[FileEntry]:
        return [entry for entry in self.files if entry.path.startswith(MEDIA_PREFIX)]


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    row_counts: dict[str, int]
    media_restored: int
    unapplied_migrations: list[str]


def default_backup_path(now: datetime | None = None) -> Path:
    now = now or datetime.now(UTC)
    return Path(settings.VAR_DIR) / "backups" / f"clientsflow-{now:%Y%m%d-%H%M%S}{ARCHIVE_SUFFIX}"


def current_engine() -> str:
    vendor = connection.vendor
    if vendor not in DATABASE_MEMBERS:
        raise BackupError(f"Backups support SQLite and PostgreSQL; this database is {vendor}.")
    return vendor


# --- Creating ---------------------------------------------------------------------------------


def backup_create(*, to: Path, on_progress: Progress = lambda message: None) -> Manifest:
    """Write a backup archive to `to` (which must not exist yet) and return its manifest.

    The archive is written beside `to` under a temporary name and renamed only when complete,
    so an interrupted backup never leaves a file that looks finished.
    """
    to = Path(to)
    if to.exists():
        raise BackupError(f"{to} already exists; choose another path with --to (backups are never overwritten).")
    if connection.in_atomic_block:
        raise BackupError("A backup must be taken outside a database transaction.")
    engine = current_engine()
    created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    to.parent.mkdir(parents=True, exist_ok=True)
    partial = to.with_name(to.name + ".partial")
    with tempfile.TemporaryDirectory(dir=to.parent, prefix=".backup-") as staging:
        dump = Path(staging) / DATABASE_MEMBERS[engine]
        on_progress(f"Taking a snapshot of the {engine} database...")
        if engine == "sqlite":
            migrations, row_counts = _sqlite_snapshot(dump)
        else:
            migrations, row_counts = _postgres_snapshot(dump)
        on_progress(f"Snapshot taken: {len(row_counts)} tables, {sum(row_counts.values())} rows.")

        media_root, media_note = _media_root()
        files: list[FileEntry] = []
        try:
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                files.append(_add_file(tar, dump, DATABASE_MEMBERS[engine]))
                if media_root is not None:
                    for source in sorted(p for p in media_root.rglob("*") if p.is_file() and not p.is_symlink()):
                        files.append(_add_file(tar, source, MEDIA_PREFIX + source.relative_to(media_root).as_posix()))
                    media_note = f"{len(files) - 1} files from MEDIA_ROOT ({media_root})."
                    on_progress(f"Added {len(files) - 1} uploaded files.")
                manifest = Manifest(
                    created_at=created_at,
                    engine=engine,
                    database_file=DATABASE_MEMBERS[engine],
                    migrations=migrations,
                    row_counts=row_counts,
                    media={"included": media_root is not None, "note": media_note},
                    files=files,
                )
                raw = manifest.to_json()
                _add_bytes(tar, MANIFEST_NAME, raw)
                _add_bytes(tar, MANIFEST_CHECKSUM_NAME, f"{_sha256(raw)}  {MANIFEST_NAME}\n".encode())
            partial.chmod(0o600)  # it holds every lead's personal data
            with partial.open("rb") as fh:
                os.fsync(fh.fileno())
            partial.replace(to)
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def _sqlite_snapshot(dump: Path) -> tuple[dict[str, list[str]], dict[str, int]]:
    connection.ensure_connection()
    target = sqlite3.connect(dump)
    try:
        # The online backup API copies a consistent image even while other connections write.
        connection.connection.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        cursor = target.cursor()
        tables = [
            row[0]
            for row in cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return _migrations(cursor, tables), _row_counts(cursor, tables, quote=_quote_sqlite)
    finally:
        target.close()


def _postgres_snapshot(dump: Path) -> tuple[dict[str, list[str]], dict[str, int]]:
    pg_dump = _pg_tool("pg_dump")
    # A connection of our own, so the exported snapshot lives exactly as long as pg_dump needs it.
    snapshot_conn = connections.create_connection("default")
    try:
        with snapshot_conn.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot_id = cursor.fetchone()[0]
            tables = sorted(snapshot_conn.introspection.table_names(cursor))
            migrations = _migrations(cursor, tables)
            row_counts = _row_counts(cursor, tables, quote=snapshot_conn.ops.quote_name)
            _run_pg_tool(
                [pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot_id}", f"--file={dump}"],
                what="pg_dump",
            )
            cursor.execute("COMMIT")
    finally:
        snapshot_conn.close()
    return migrations, row_counts


def _media_root() -> tuple[Path | None, str]:
    if not settings.MEDIA_ROOT:
        return None, "MEDIA_ROOT is not set: this installation keeps no uploaded files."
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        return None, f"MEDIA_ROOT ({root}) does not exist yet: no uploaded files to back up."
    return root, ""


class _HashingReader(io.RawIOBase):
    """Hashes exactly the bytes tarfile copies into the archive (a file growing meanwhile is cut at
    the size recorded in its header, so the checksum always matches what was stored)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, source: Path, arcname: str) -> FileEntry:
    info = tar.gettarinfo(str(source), arcname)
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    with source.open("rb") as fh:
        reader = _HashingReader(fh)
        try:
            tar.addfile(info, reader)
        except OSError as exc:
            raise BackupError(f"{source} changed while it was being backed up ({exc}); run the backup again.")
    return FileEntry(path=arcname, size=info.size, sha256=reader.digest.hexdigest())


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


# --- Verifying and restoring --------------------------------------------------------------------


def backup_verify(*, path: Path) -> Manifest:
    """Check every file in the archive against the manifest's size and SHA-256; return the manifest."""
    with _open_archive(path) as tar:
        manifest = _read_manifest(tar, path)
        members = {m.name: m for m in tar.getmembers()}
        listed = {entry.path for entry in manifest.files} | {MANIFEST_NAME, MANIFEST_CHECKSUM_NAME}
        if unlisted := sorted(set(members) - listed):
            raise BackupError(
                f"{path} holds files its manifest does not list ({', '.join(unlisted[:5])}); not restoring it."
            )
        for entry in manifest.files:
            _safe_relative(entry.path)
            member = members.get(entry.path)
            if member is None or not member.isfile():
                raise BackupError(f"{path} is incomplete: {entry.path} is missing. Use another backup.")
            if member.size != entry.size or _member_sha256(tar, member) != entry.sha256:
                raise BackupError(
                    f"{path} is damaged: the checksum of {entry.path} does not match the manifest. "
                    "Nothing was restored; use another backup."
                )
    return manifest


def backup_restore(*, path: Path, force: bool = False, on_progress: Progress = lambda message: None) -> RestoreResult:
    """Restore a backup into the configured database (and MEDIA_ROOT).

    Refuses, before changing anything: a damaged archive, a backup of another engine, and, unless
    `force`, a database whose application tables hold rows.
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file; give the path of a backup archive.")
    if connection.in_atomic_block:
        raise BackupError("A restore must run outside a database transaction.")
    manifest = backup_verify(path=path)
    on_progress(f"Checked {plural(len(manifest.files), 'file')} against the manifest: every checksum matches.")
    engine = current_engine()
    if manifest.engine != engine:
        raise BackupError(
            f"This backup is of a {manifest.engine} database and DATABASE_URL points to {engine}. "
            f"Restore it into a {manifest.engine} database (set DATABASE_URL accordingly)."
        )
    media_root = Path(settings.MEDIA_ROOT) if settings.MEDIA_ROOT else None
    if manifest.media_files and media_root is None:
        raise BackupError(
            f"The backup holds {len(manifest.media_files)} uploaded files but MEDIA_ROOT is not set here; "
            "set MEDIA_ROOT and run the restore again. Nothing was restored."
        )
    if not force and (occupied := application_tables_with_rows()):
        listing = ", ".join(f"{table} ({count})" for table, count in sorted(occupied.items())[:6])
        raise BackupError(
            f"The database is not empty: {listing}{', ...' if len(occupied) > 6 else ''} hold rows. "
            "Restore into an empty database, or add --force to replace everything in this one."
        )

    on_progress(f"Restoring the {engine} database from the snapshot of {manifest.created_at}...")
    with _open_archive(path) as tar, tempfile.TemporaryDirectory(prefix="clientsflow-restore-") as staging:
        dump = Path(staging) / manifest.database_file
        _extract_to(tar, manifest.database_file, dump)
        if engine == "sqlite":
            _sqlite_restore(dump)
        else:
            _postgres_restore(dump)
        if media_root is not None:  # checked above: files to restore mean MEDIA_ROOT is set
            for entry in manifest.media_files:
                target = media_root / _safe_relative(entry.path[len(MEDIA_PREFIX) :])
                target.parent.mkdir(parents=True, exist_ok=True)
                _extract_to(tar, entry.path, target)
    if manifest.media_files:
        on_progress(f"Restored {len(manifest.media_files)} uploaded files into {media_root}.")

    restored = database_row_counts()
    differing = {
        table: (expected, restored.get(table))
        for table, expected in manifest.row_counts.items()
        if restored.get(table) != expected
    }
    if differing:
        details = ", ".join(f"{t}: {got} rows, backup had {want}" for t, (want, got) in sorted(differing.items())[:6])
        raise BackupError(
            f"The restore finished but the row counts do not match the backup ({details}). "
            "Do not use this database; restore again with --force or use another backup."
        )
    return RestoreResult(
        manifest=manifest,
        row_counts=restored,
        media_restored=len(manifest.media_files),
        unapplied_migrations=_unapplied_migrations(),
    )


def _sqlite_restore(dump: Path) -> None:
    source = sqlite3.connect(dump)
    try:
        connection.ensure_connection()
        source.backup(connection.connection)
    finally:
        source.close()
        connection.close()  # the next query reconnects and sees the restored file from scratch


def _postgres_restore(dump: Path) -> None:
    pg_restore = _pg_tool("pg_restore")
    # Our own idle connections must not hold locks that the DROPs in --clean would wait on.
    connections.close_all()
    _run_pg_tool(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",  # all or nothing: a failed restore leaves the database as it was
            "--exit-on-error",
            "--no-password",
            f"--dbname={settings.DATABASES['default']['NAME']}",
            str(dump),
        ],
        what="pg_restore",
    )


def database_row_counts() -> dict[str, int]:
    """Every table's row count in the configured database."""
    with connection.cursor() as cursor:
        tables = sorted(connection.introspection.table_names(cursor))
        return _row_counts(cursor, tables, quote=connection.ops.quote_name)


def application_tables() -> set[str]:
    """Tables that hold what people and the app made: every model of this project's own apps,
    and user accounts. Django's and libraries' bookkeeping (migrations, content types,
    permissions, the Beat schedule) does not count."""
    base = Path(settings.BASE_DIR).resolve()
    tables = {apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table}
    for config in apps.get_app_configs():
        if Path(config.path).resolve().is_relative_to(base):
            tables.update(model._meta.db_table for model in config.get_models(include_auto_created=True))
    return tables


def application_tables_with_rows() -> dict[str, int]:
    with connection.cursor() as cursor:
        present = sorted(application_tables() & set(connection.introspection.table_names(cursor)))
        counts = _row_counts(cursor, present, quote=connection.ops.quote_name)
    return {table: count for table, count in counts.items() if count}


def _unapplied_migrations() -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


# --- Helpers ------------------------------------------------------------------------------------


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _quote_sqlite(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row_counts(cursor: Any, tables: list[str], *, quote: Callable[[str], str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - names come from the catalogue
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _migrations(cursor: Any, tables: list[str]) -> dict[str, list[str]]:
    if "django_migrations" not in tables:
        return {}
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    applied: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        applied.setdefault(app, []).append(name)
    return applied


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _member_sha256(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    digest = hashlib.sha256()
    stream = tar.extractfile(member)
    assert stream is not None
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _open_archive(path: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(path, "r:") as tar:
            yield tar
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(f"{path} is not a readable backup archive ({exc}); it may be damaged. Use another backup.")


def _read_manifest(tar: tarfile.TarFile, path: Path) -> Manifest:
    try:
        raw = _read_member(tar, MANIFEST_NAME)
        recorded = _read_member(tar, MANIFEST_CHECKSUM_NAME).split()[0].decode()
    except (KeyError, IndexError, UnicodeDecodeError):
        raise BackupError(f"{path} has no readable manifest; it is not a ClientsFlow backup or it is damaged.")
    if _sha256(raw) != recorded:
        raise BackupError(f"{path} is damaged: the manifest's checksum does not match. Use another backup.")
    return Manifest.from_json(raw)


def _read_member(tar: tarfile.TarFile, name: str) -> bytes:
    stream = tar.extractfile(name)
    if stream is None:
        raise KeyError(name)
    return stream.read()


def _extract_to(tar: tarfile.TarFile, name: str, target: Path) -> None:
    stream = tar.extractfile(name)
    assert stream is not None  # verified before anything is extracted
    with target.open("wb") as out:
        shutil.copyfileobj(stream, out, CHUNK)


def _safe_relative(name: str) -> Path:
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"The backup names a file outside its own folders ({name}); not restoring it.")
    return relative


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found on PATH; install the PostgreSQL client tools (the server's major version) "
            "and run again."
        )
    return found


def _pg_environment() -> dict[str, str]:
    """libpq reads the connection from PG* variables, so the password never appears in a command line."""
    db = settings.DATABASES["default"]
    options = db.get("OPTIONS", {})
    values = {
        "PGHOST": db.get("HOST"),
        "PGPORT": db.get("PORT"),
        "PGUSER": db.get("USER"),
        "PGPASSWORD": db.get("PASSWORD"),
        "PGDATABASE": db.get("NAME"),
        "PGSSLMODE": options.get("sslmode"),
        "PGCONNECT_TIMEOUT": options.get("connect_timeout"),
    }
    return {**os.environ, **{key: str(value) for key, value in values.items() if value not in (None, "")}}


def _run_pg_tool(args: list[str], *, what: str) -> None:
    result = subprocess.run(args, env=_pg_environment(), capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackupError(f"{what} failed (exit {result.returncode}): {detail}")
