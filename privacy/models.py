"""What an erase did, without the erased data: counts, what was kept and what could not be reached."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Erasure(models.Model):
    # The lead row stays (payments and the signature point at it) but holds nothing personal.
    lead = models.ForeignKey("leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lead_public_id = models.UUIDField(verbose_name="lead's public ID", db_index=True)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=100)
    erased_at = models.DateTimeField(auto_now_add=True, db_index=True)
    counts = models.JSONField(default=dict, help_text="Rows anonymised, by model.")
    kept = models.JSONField(default=list, help_text="What was kept and why.")
    unreachable = models.JSONField(
        default=list, help_text="Outside systems that still hold a copy: {system, id, reason}. Remove those by hand."
    )

    class Meta:
        ordering = ["-erased_at", "-id"]

    def __str__(self) -> str:
        return f"Erasure of lead {self.lead_public_id} on {self.erased_at:%Y-%m-%d}"
