"""`manage.py backup [--to PATH]`: see clientsflow/backup.py for what the archive holds."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clientsflow.backup import BackupError, backup_create, default_backup_path, plural


class Command(BaseCommand):
    help = (
        "Write a consistent backup of the database and the uploaded files to one .tar file, with a "
        "manifest (engine, migrations, row counts, SHA-256 of every file). "
        "Default path: var/backups/clientsflow-YYYYmmdd-HHMMSS.tar"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--to", type=Path, help="Where to write the archive (must not exist yet).")

    def handle(self, *args, to: Path | None = None, **options) -> None:
        target = to or default_backup_path()
        try:
            manifest = backup_create(to=target, on_progress=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Uploaded files: {manifest.media['note']}")
        self.stdout.write(
            f"Backup written to {target}: {manifest.engine}, {len(manifest.row_counts)} tables, "
            f"{manifest.total_rows} rows, {plural(len(manifest.files), 'file')} ({target.stat().st_size} bytes)."
        )
