"""The admin in plain words: money as money, phones international, times in the owner's zone
with a relative time, audit verbs and object types as sentences, plural names spelled right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.test import override_settings

from clientsflow.audit import audit_record
from clientsflow.display import (
    AUDIT_VERB_LABELS,
    audit_verb_label,
    object_type_label,
    owner_time,
    phone_international,
    relative_time,
)
from clientsflow.models import AuditEvent
from clientsflow.money import format_money
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_money_reads_as_money():
    assert format_money(125000, "USD") == "$1,250.00"
    assert format_money(98000, "eur") == "€980.00"
    assert format_money(1000, "JPY") == "¥1,000"
    assert format_money(500, "CHF") == "5.00 CHF"
    assert format_money(None, "USD") == "—"


def test_money_template_filter():
    rendered = Template("{% load display %}{{ amount|money:currency }}").render(
        Context({"amount": 125000, "currency": "USD"})
    )
    assert rendered == "$1,250.00"


def test_phone_in_international_format():
    assert phone_international("+442071838750") == "+44 20 7183 8750"
    assert phone_international("(212) 555-0123") == "+1 212-555-0123"
    assert phone_international("not a phone") == "not a phone"


@override_settings(OWNER_TIMEZONE="Europe/Berlin")
def test_times_in_the_owners_zone_with_relative_time():
    when = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
    assert owner_time(when) == "30 Nov 2026, 13:05 CET"
    now = when + timedelta(hours=3, minutes=10)
    assert relative_time(when, now) == "3 hours ago"
    assert relative_time(when, when + timedelta(minutes=1)) == "1 minute ago"
    assert relative_time(when, when + timedelta(days=4)) == "4 days ago"
    assert relative_time(when + timedelta(hours=2), when) == "in 2 hours"


def test_audit_verbs_read_as_sentences():
    assert audit_verb_label("outbound.blocked") == "Email blocked"
    assert audit_verb_label("something.brand_new") == "Something brand new"
    assert all(label[0].isupper() and "_" not in label for label in AUDIT_VERB_LABELS.values())


def test_object_types_read_as_model_names_including_the_old_label():
    assert object_type_label("outreach.outboundmessage") == "Outbound message"
    assert object_type_label("leads.outboundmessage") == "Outbound message"
    assert object_type_label("outreach.inboundreply") == "Inbound reply"
    assert object_type_label("") == "—"


def test_audit_list_shows_plain_words_and_still_filters_on_the_raw_verb(admin_client):
    lead = LeadFactory()
    audit_record(verb="outbound.blocked", obj=lead, actor_label="dispatcher")
    AuditEvent.objects.create(actor_label="x", verb="lead.created", object_type="leads.outboundmessage")
    page = admin_client.get("/admin/clientsflow/auditevent/").content.decode()
    assert "Email blocked" in page and "Lead created" in page
    assert "Outbound message" in page
    assert ">outbound.blocked<" not in page
    filtered = admin_client.get("/admin/clientsflow/auditevent/?verb=outbound.blocked").content.decode()
    assert "Email blocked" in filtered and "Lead created</td>" not in filtered


def test_plural_names_and_field_labels_are_plain(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "Inbound replies" in page and "Inbound replys" not in page
    lead = LeadFactory(phone="+442071838750", phone_e164="+442071838750", value_minor=125000, value_currency="USD")
    changelist = admin_client.get("/admin/leads/lead/").content.decode()
    assert "+44 20 7183 8750" in changelist and "$1,250.00" in changelist and "just now" in changelist
    change = admin_client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    assert "Phone e164" not in change and "Email normalized" not in change


def test_payment_amounts_are_money(admin_client):
    from billing.models import Payment

    lead = LeadFactory()
    payment = Payment.objects.create(
        lead=lead,
        proposal=None,
        review_reason="Amount differs",
        checkout_session_id="cs_test_1",
        amount_minor=98000,
        refunded_minor=5000,
        currency="EUR",
    )
    changelist = admin_client.get("/admin/billing/payment/").content.decode()
    assert "€980.00" in changelist and "€50.00" in changelist
    assert "Refunded minor" not in changelist
    change = admin_client.get(f"/admin/billing/payment/{payment.pk}/change/").content.decode()
    assert "€50.00" in change and "Refunded" in change and "Refunded minor" not in change


# --- the site: sections, "System" for superusers only, "Needs you" first ------------------------


def _owner_role_user():
    from tests.leads.factories import staff_user

    return staff_user("owner-role", role="Owner")


def test_index_leads_with_needs_you_and_links_to_board_and_reports(admin_client):
    from tests.outreach.outbound_support import make_draft

    make_draft()
    make_draft()
    page = admin_client.get("/admin/").content.decode()
    needs_you = page.index("Needs you")
    assert needs_you < page.index("Leads</a>")
    assert "<strong>2</strong> Drafts awaiting approval" in page
    assert 'href="/board/"' in page and 'href="/reports/"' in page


def test_system_section_holds_the_plumbing_for_superusers(admin_client):
    page = admin_client.get("/admin/").content.decode()
    system = page.index(">System<")
    for name in ("Crontabs", "Intervals", "Periodic tasks", "Holds", "Job runs", "Webhook events", "Access attempts"):
        assert page.index(name) > system, name
    assert admin_client.get("/admin/django_celery_beat/crontabschedule/").status_code == 200


def test_system_section_is_hidden_from_a_staff_owner(client):
    client.force_login(_owner_role_user())
    page = client.get("/admin/").content.decode()
    assert "Needs you" in page and "Leads" in page
    assert ">System<" not in page
    for name in ("Crontabs", "Periodic tasks", "Holds", "Job runs", "Webhook events"):
        assert name not in page, name
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 403
    assert client.get("/admin/clientsflow/webhookevent/").status_code == 403
    assert client.get("/admin/bookings/hold/").status_code == 403


def test_every_registered_admin_lives_on_our_site():
    from django.contrib import admin

    from clientsflow.admin_site import ClientsFlowAdminSite, SystemModelAdmin

    assert isinstance(admin.site, ClientsFlowAdminSite)
    from django_celery_beat.models import CrontabSchedule

    assert isinstance(admin.site.get_model_admin(CrontabSchedule), SystemModelAdmin)
