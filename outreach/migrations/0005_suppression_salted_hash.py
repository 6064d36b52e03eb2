"""Rehash suppression entries from an unsalted SHA-256 to the HMAC the service now stores.

An entry can only be rehashed while we still hold its address somewhere (a lead's email or an
outbound message's recipient). The rest stay as they are: the suppression check still matches
the unsalted form, so nobody on the list is mailed again; those addresses are no longer held
anywhere, so there is nothing to rehash them from.

The HMAC is written out here, not imported, so this migration keeps meaning what it meant when
the service changes.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import migrations
from django.utils.crypto import salted_hmac

HASH_KEY_SALT = "outreach.suppression"


def _legacy(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


def _salted(address: str) -> str:
    key = settings.SUPPRESSION_HASH_KEY or settings.SECRET_KEY
    return salted_hmac(HASH_KEY_SALT, address, secret=key, algorithm="sha256").hexdigest()


def rehash(apps, schema_editor):
    Suppression = apps.get_model("outreach", "Suppression")
    Lead = apps.get_model("leads", "Lead")
    OutboundMessage = apps.get_model("outreach", "OutboundMessage")
    by_legacy = dict(Suppression.objects.values_list("email_hash", "pk"))
    if not by_legacy:
        return
    addresses = Lead.objects.exclude(email_normalized="").values_list("email_normalized", flat=True)
    recipients = OutboundMessage.objects.exclude(to_email="").values_list("to_email", flat=True)
    for source in (addresses.iterator(chunk_size=5000), recipients.iterator(chunk_size=5000)):
        for raw in source:
            address = (raw or "").strip().lower()
            pk = by_legacy.pop(_legacy(address), None)
            if pk is None:
                continue
            salted = _salted(address)
            if Suppression.objects.filter(email_hash=salted).exists():
                Suppression.objects.filter(pk=pk).delete()
            else:
                Suppression.objects.filter(pk=pk).update(email_hash=salted)
            if not by_legacy:
                return


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0004_plain_field_labels"),
    ]

    operations = [
        migrations.RunPython(rehash, migrations.RunPython.noop),
    ]
