"""Writing the append-only audit log."""

from __future__ import annotations

from typing import Any

from django.db import models

from clientsflow.models import AuditEvent
from clientsflow.prepared import insert_many, insert_row

SYSTEM = "system"


def audit_event(
    *,
    verb: str,
    obj: models.Model | None = None,
    actor: Any = None,
    actor_label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """The audit row `audit_record` writes, not yet written: for a caller that writes it together
    with its other rows (`clientsflow.prepared.insert_rows`)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = actor_label or (user.get_username() if user else SYSTEM)
    return AuditEvent(
        actor_user=user,
        actor_label=label[:100],
        verb=verb,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        details=details or {},
    )


def audit_record(
    *,
    verb: str,
    obj: models.Model | None = None,
    actor: Any = None,
    actor_label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    # Appended on every intake, so its INSERT is compiled once (an append-only row needs no save()).
    return insert_row(audit_event(verb=verb, obj=obj, actor=actor, actor_label=actor_label, details=details))


def audit_row(
    *,
    verb: str,
    obj: models.Model | None = None,
    actor: Any = None,
    actor_label: str = "",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The row `audit_record` writes, as field values: for a caller that writes several audit rows
    in one statement (`audit_record_rows`)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = actor_label or (user.get_username() if user else SYSTEM)
    return {
        "actor_user_id": user.pk if user else None,
        "actor_label": label[:100],
        "verb": verb,
        "object_type": obj._meta.label_lower if obj is not None else "",
        "object_id": str(obj.pk) if obj is not None else "",
        "object_repr": str(obj)[:255] if obj is not None else "",
        "details": details or {},
    }


def audit_record_rows(rows: list[dict[str, Any]]) -> None:
    """Append `audit_row`s, in order, in one multi-row INSERT (stamped with one time)."""
    insert_many(AuditEvent, rows)
