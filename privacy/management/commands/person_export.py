from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from privacy.selectors import lead_for_person
from privacy.services.export import person_export


class Command(BaseCommand):
    help = "Write everything we hold about one person (by email or lead id) to a ZIP file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("person", help="The person's email address or the lead's public id.")
        parser.add_argument("--to", default="", help="Where to write the ZIP (default: person-<lead id>.zip).")

    def handle(self, *args: Any, **options: Any) -> None:
        lead = lead_for_person(options["person"])
        if lead is None:
            raise CommandError("No lead has that email address or id.")
        path = Path(options["to"] or f"person-{lead.public_id}.zip")
        path.write_bytes(person_export(lead=lead))
        self.stdout.write(f"Wrote {path}")
