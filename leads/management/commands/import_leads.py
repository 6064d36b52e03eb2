"""`manage.py import_leads FILE [--source S] [--rejects PATH]`: see leads/services/importer.py."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from clientsflow.errors import InvalidInput
from leads.services.importer import DEFAULT_SOURCE, ImportFileError, count_rows, lead_import_csv, mapping_help


class Command(BaseCommand):
    help = (
        "Import leads from a CSV file (UTF-8 with or without a BOM, else Windows-1252; columns separated by\n"
        "commas, semicolons, tabs or '|', detected from the first row, which names the columns).\n"
        "Every row is deduplicated like any other intake: same email, then same phone (E.164)\n"
        "enriches the existing lead without overwriting what the owner edited. Running the same\n"
        "file again changes nothing. Rows that cannot be imported go to the rejects file with\n"
        "their row number (the header is row 1) and the reason.\n\n"
        "Column names (case, spaces, '-', '_' and '.' ignored); an email or a phone column is required:\n"
        f"{mapping_help()}\n"
        "Other columns are ignored."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the mapping's lines
        return parser

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file to import.")
        parser.add_argument(
            "--source",
            default=DEFAULT_SOURCE,
            help=f"Source for rows without a source column value (default: {DEFAULT_SOURCE}).",
        )
        parser.add_argument("--rejects", type=Path, help="Where to write rejected rows (default: FILE.rejects.csv).")

    def handle(self, *args, file: Path, source: str, rejects: Path | None, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file} does not exist or is not a file; give the path of a CSV file.")
        # The bar goes to stderr and only on a terminal (disable=None); log lines (stderr too) are
        # printed above it rather than through it; stdout carries the summary alone.
        progress = tqdm(total=count_rows(file), unit="row", file=sys.stderr, disable=None, desc="import")
        try:
            with logging_redirect_tqdm():
                summary = lead_import_csv(path=file, source=source, rejects_path=rejects, on_progress=progress.update)
        except (ImportFileError, InvalidInput) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()
        if summary.ignored_columns:
            self.stdout.write(f"Ignored columns: {', '.join(summary.ignored_columns)}")
        if summary.rejected:
            self.stdout.write(f"Rejected rows with reasons: {summary.rejects_path}")
        self.stdout.write(summary.line())
