"""`manage.py restore PATH [--force]`: see clientsflow/backup.py."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clientsflow.backup import BackupError, backup_restore, plural


class Command(BaseCommand):
    help = (
        "Restore a backup written by `backup` into the configured database (and MEDIA_ROOT). "
        "Checks every checksum first; refuses a backup of another database engine, and a database "
        "that already holds data unless --force is given."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="The backup archive (.tar) to restore.")
        parser.add_argument("--force", action="store_true", help="Replace the data in a database that is not empty.")

    def handle(self, *args, path: Path, force: bool = False, **options) -> None:
        try:
            result = backup_restore(path=path, force=force, on_progress=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        self.stdout.write(
            f"Restored the backup of {manifest.created_at} ({manifest.engine}): {len(result.row_counts)} tables, "
            f"{sum(result.row_counts.values())} rows, every table's row count matches the manifest; "
            f"{plural(result.media_restored, 'uploaded file')}."
        )
        if result.unapplied_migrations:
            self.stdout.write(
                f"This code has {len(result.unapplied_migrations)} migrations the backup predates "
                f"({', '.join(result.unapplied_migrations[:5])}): run `python manage.py migrate` next."
            )
