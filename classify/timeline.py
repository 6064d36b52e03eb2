"""The lead's timeline: what each of its replies was classified as, and any human decision."""

from __future__ import annotations

from classify.models import Classification
from leads.models import Lead
from leads.selectors import TimelineEntry, register_timeline_source


@register_timeline_source("classifications")
def classification_entries(lead: Lead) -> list[TimelineEntry]:
    entries = []
    for c in Classification.objects.filter(reply__lead=lead).select_related("reviewed_by").order_by("-created_at")[:50]:
        detail = f"{c.confidence:.0%} sure ({c.get_backend_display()})"
        if c.needs_review:
            detail += " · waiting for a person to review"
        entries.append(
            TimelineEntry(
                at=c.created_at,
                kind="classification",
                title=f"Reply classified {c.label}",
                detail=detail,
                actor=c.get_backend_display(),
                url=f"/admin/classify/classification/{c.pk}/change/",
            )
        )
        if c.final_label and c.reviewed_at:
            entries.append(
                TimelineEntry(
                    at=c.reviewed_at,
                    kind="classification",
                    title=f"Reply label set to {c.final_label} by a person",
                    actor=c.reviewed_by.get_username() if c.reviewed_by else "",
                    url=f"/admin/classify/classification/{c.pk}/change/",
                )
            )
    return entries
