from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clientsflow.errors import DomainError
from privacy.selectors import lead_for_person
from privacy.services.erase import confirmation_phrase, person_erase, person_erase_preview


class Command(BaseCommand):
    help = (
        "Erase one person everywhere we hold them. Without --yes-erase it only shows what would go; "
        "with --yes-erase followed by the person's email (or phone, or lead id when they have neither) it erases."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("person", help="The person's email address or the lead's public id.")
        parser.add_argument("--yes-erase", default="", metavar="EMAIL", help="Type the person's email to confirm.")

    def handle(self, *args: Any, **options: Any) -> None:
        lead = lead_for_person(options["person"])
        if lead is None:
            raise CommandError("No lead has that email address or id.")
        preview = person_erase_preview(lead=lead)
        self.stdout.write(f"This will empty lead {lead.public_id} and anonymise the rows about them:")
        for label, count in preview.related_counts.items():
            self.stdout.write(f"  {label}: {count}")
        self.stdout.write("and the text that names them in:")
        for label, count in preview.mention_counts.items():
            self.stdout.write(f"  {label}: {count}")
        if preview.import_files:
            self.stdout.write(f"  Uploaded CSV files not yet fully imported: {preview.import_files} (rows emptied)")
        for copy in preview.vendor_copies:
            self.stdout.write(f"  {copy.system} {copy.object_id}: {copy.action}")
        self.stdout.write("Kept:")
        for line in preview.kept:
            self.stdout.write(f"  {line}")
        if not options["yes_erase"]:
            self.stdout.write(f"Nothing changed. To erase, run again with --yes-erase {confirmation_phrase(lead)}")
            return
        try:
            erasure = person_erase(lead=lead, actor=None, confirmation=options["yes_erase"], actor_label="operator")
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Erased ({sum(erasure.counts.values())} rows)."))
        for item in erasure.unreachable:
            self.stdout.write(self.style.WARNING(f"Could not reach {item['system']} {item['id']}: {item['reason']}"))
