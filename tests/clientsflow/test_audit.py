from __future__ import annotations

import pytest

from clientsflow.audit import audit_record
from clientsflow.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_audit_events_cannot_be_changed_or_deleted():
    event = audit_record(verb="lead.created", details={"source": "website"})
    event.verb = "lead.deleted"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.get().verb == "lead.created"


def test_admin_offers_no_change_or_delete_even_to_superusers(admin_client):
    event = audit_record(verb="lead.created")
    change = admin_client.get(f"/admin/clientsflow/auditevent/{event.pk}/change/")
    assert change.status_code == 200
    assert b'name="_save"' not in change.content  # read-only view
    assert admin_client.post(f"/admin/clientsflow/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/clientsflow/auditevent/add/").status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
