"""Create the owner's login for the embedded default (once) and write it to var/owner_login.txt."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Make sure the owner account exists; print where its login is kept."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="owner")

    def handle(self, *args, username: str, **options) -> None:
        login_file = settings.VAR_DIR / "owner_login.txt"
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is not None and login_file.exists():
            return
        password = secrets.token_urlsafe(12)
        if user is None:
            user = user_model.objects.create_superuser(username=username, email="owner@example.com", password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        login_file.write_text(f"  Log in as: {username} / {password}\n")
        login_file.chmod(0o600)
        self.stdout.write(f"Owner login written to {login_file}")
