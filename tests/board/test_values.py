"""Deal values on the board: card amounts, column totals that match the database, the weighted
forecast, this month's revenue, editing a value from the card menu, and the header's sending status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone

from billing.models import Payment
from board.selectors import board_money, month_start
from board.templatetags.board import short_money
from clientsflow.models import AuditEvent
from clientsflow.site import site_settings, site_settings_update
from leads.models import PIPELINE_ORDER, Lead, Stage
from leads.selectors import BoardFilters
from tests.billing.conftest import sent_proposal
from tests.board.test_board import make_board_leads
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(staff_user("owner", email="owner@example.com"))
    return client


def _valued(n: int, stages: list[str], *, currency: str = "USD") -> list[Lead]:
    leads = make_board_leads(n, stages=stages, prefix=f"v{currency.lower()}")
    for i, lead in enumerate(leads):
        Lead.objects.filter(pk=lead.pk).update(value_minor=(i + 1) * 12_345, value_currency=currency)
    return list(Lead.objects.filter(pk__in=[lead.pk for lead in leads]))


def test_money_reads_as_the_owner_scans_it():
    assert short_money(450_000, "USD") == "$4,500"
    assert short_money(450_050, "USD") == "$4,500.50"
    assert short_money(100_000, "JPY") == "¥100,000"
    assert short_money(450_000, "CHF") == "4,500 CHF"


def test_column_totals_and_forecast_match_the_database():
    _valued(30, [Stage.NEW, Stage.BOOKED, Stage.PROPOSAL_SENT, Stage.PAID, Stage.LOST])
    _valued(4, [Stage.BOOKED], currency="EUR")
    make_board_leads(5, stages=[Stage.BOOKED], prefix="novalue")  # no value: counts for nothing
    site_settings_update(stage_probabilities={"booked": 35}, default_currency="USD")

    money = board_money(BoardFilters())

    for stage in PIPELINE_ORDER:
        expected = (
            Lead.objects.filter(stage=stage, value_currency="USD").aggregate(total=Sum("value_minor"))["total"] or 0
        )
        assert money.columns[stage].minor == expected
    assert money.columns["booked"].other_currencies == ("EUR",)
    assert money.columns["new"].other_currencies == ()
    config = site_settings()
    forecast = sum(
        (money.columns[stage].minor * config.stage_probability(stage) + 50) // 100
        for stage in PIPELINE_ORDER
        if stage not in ("paid", "lost")
    )
    assert money.forecast.minor == forecast > 0
    assert money.forecast.other_currencies == ("EUR",)  # booked EUR deals are left out, and said so


def test_the_forecast_weighs_each_open_stage_by_the_probability_in_settings():
    _valued(12, [Stage.NEW, Stage.BOOKED, Stage.PROPOSAL_SENT, Stage.SIGNED, Stage.PAID, Stage.LOST])
    chances = {"new": 7, "contacted": 0, "replied": 0, "booked": 33, "call_done": 0, "proposal_sent": 51}
    chances |= {"signed": 99, "nurture": 0, "paid": 100, "lost": 100}  # paid and lost never count
    site_settings_update(stage_probabilities=chances, default_currency="USD")

    def db_total(stage: str) -> int:
        rows = Lead.objects.filter(stage=stage, value_currency="USD").aggregate(total=Sum("value_minor"))
        return rows["total"] or 0

    expected = sum(
        (db_total(stage) * chances[stage] + 50) // 100 for stage in ("new", "booked", "proposal_sent", "signed")
    )
    assert board_money(BoardFilters()).forecast.minor == expected > 0
    site_settings_update(stage_probabilities={**chances, "signed": 0})
    assert board_money(BoardFilters()).forecast.minor == expected - (db_total("signed") * 99 + 50) // 100


def test_totals_follow_the_filters():
    _valued(9, [Stage.NEW])
    money = board_money(BoardFilters(source="ghl"))
    expected = Lead.objects.filter(stage="new", source="ghl").aggregate(total=Sum("value_minor"))["total"]
    assert money.columns["new"].minor == expected < board_money(BoardFilters()).columns["new"].minor


def _payment(proposal, *, amount: int, paid_at: datetime, status=Payment.Status.PAID, refunded: int = 0, n: int = 0):
    return Payment.objects.create(
        proposal=proposal,
        lead=proposal.lead,
        checkout_session_id=f"cs_test_{n}",
        amount_minor=amount,
        currency=proposal.currency,
        status=status,
        paid_at=paid_at,
        refunded_minor=refunded,
    )


@override_settings(OWNER_TIMEZONE="America/New_York")
def test_paid_this_month_counts_this_months_payments_in_the_owners_zone_less_refunds():
    proposal = sent_proposal()
    now = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)
    start = month_start(now)
    assert start == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # midnight in New York
    _payment(proposal, amount=100_000, paid_at=start + timedelta(minutes=1), n=1)
    _payment(
        proposal, amount=50_000, paid_at=start + timedelta(days=2), status=Payment.Status.REFUNDED, refunded=20_000, n=2
    )
    _payment(proposal, amount=70_000, paid_at=start - timedelta(minutes=1), n=3)  # 23:59 on 30 Nov in New York
    _payment(proposal, amount=90_000, paid_at=start + timedelta(days=3), status=Payment.Status.FAILED, n=4)
    assert board_money(BoardFilters(), now=now).paid_this_month.minor == 100_000 + 30_000


def test_the_board_shows_values_totals_forecast_and_revenue(staff_client):
    (lead,) = _valued(1, [Stage.PROPOSAL_SENT])
    Lead.objects.filter(pk=lead.pk).update(value_minor=450_000)
    html = staff_client.get("/board/").content.decode()
    assert '<b class="card-value" data-currency="USD">$4,500</b>' in html
    head = html.split('id="head-proposal_sent"')[1].split("</header>")[0]
    assert "$4,500" in head
    assert "Weighted forecast" in html and "$2,700" in html  # 60% of $4,500 by default
    assert "Paid this month" in html


@override_settings(AUTOSEND_ENABLED=False, SEND_ALLOWLIST=[])
def test_the_header_says_autosend_is_off_and_mail_may_go_to_everyone(staff_client):
    html = staff_client.get("/board/").content.decode()
    assert "Autosend off" in html and "to everyone" in html
    assert 'href="/board/leads/new/"' in html and "Add lead" in html


@override_settings(AUTOSEND_ENABLED=True, SEND_ALLOWLIST=["*@example.com", "ops@agency.test"])
def test_the_header_shows_autosend_on_and_the_allowlist_in_force(staff_client):
    html = staff_client.get("/board/").content.decode()
    assert "Autosend on" in html
    assert "*@example.com, ops@agency.test" in html


def _set_value(client, lead, amount, currency="USD", *, htmx=True, next_url="/board/"):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/board/lead/{lead.public_id}/value/",
        {"amount": amount, "currency": currency, "next": next_url},
        headers=headers,
    )


def test_setting_a_value_from_the_card_menu_saves_it_as_a_staff_edit_and_sends_fresh_totals(staff_client):
    (lead,) = make_board_leads(1, stages=[Stage.BOOKED])
    response = _set_value(staff_client, lead, "4,500.50")
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.value_minor, lead.value_currency) == (450_050, "USD")
    assert "value" in lead.owner_edited_fields  # wins over a later proposal total
    assert AuditEvent.objects.filter(verb="lead.value_set", object_id=str(lead.pk)).exists()
    html = response.content.decode()
    assert html.startswith(f'<li class="card is-new" id="card-{lead.public_id}"')
    head = html.split('<header class="column-head" id="head-booked" hx-swap-oob="true">')[1].split("</header>")[0]
    assert "$4,500.50" in head and ">1<" in head
    assert 'id="board-money" hx-swap-oob="true"' in html
    assert json.loads(response["HX-Trigger"])["board:saved"]["message"] == f"Saved: {lead}'s value is $4,500.50."


def test_an_empty_amount_clears_the_value(staff_client):
    (lead,) = _valued(1, [Stage.NEW])
    assert _set_value(staff_client, lead, "").status_code == 200
    lead.refresh_from_db()
    assert lead.value_minor is None and lead.value_currency == ""


@pytest.mark.parametrize(
    ("amount", "currency", "error"),
    [("lots", "USD", "is not an amount"), ("10.5", "JPY", "JPY amounts have no decimals"), ("10", "U$", "three")],
)
def test_a_bad_value_is_refused_in_the_dialog_and_changes_nothing(staff_client, amount, currency, error):
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    response = _set_value(staff_client, lead, amount, currency)
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#value-error"
    assert error in response.content.decode()
    lead.refresh_from_db()
    assert lead.value_minor is None


def test_without_htmx_a_value_is_saved_and_the_owner_sent_back(staff_client):
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    response = _set_value(staff_client, lead, "1200", htmx=False, next_url="/board/?q=v")
    assert response.status_code == 302 and response["Location"] == f"/board/?q=v#card-{lead.public_id}"
    lead.refresh_from_db()
    assert lead.value_minor == 120_000


def test_a_viewer_cannot_set_a_value(client):
    client.force_login(staff_user("viewer", role="Viewer"))
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    assert _set_value(client, lead, "100").status_code in (302, 403)
    lead.refresh_from_db()
    assert lead.value_minor is None


def test_a_move_answers_with_fresh_column_totals(staff_client):
    (lead,) = _valued(1, [Stage.NEW])
    response = staff_client.post(
        f"/board/lead/{lead.public_id}/move/",
        {"to_stage": "contacted", "expected_stage": "new", "next": "/board/"},
        headers={"Accept": "application/json"},
    )
    totals = response.json()["totals"]
    assert set(totals) == {"new", "contacted", "money"}
    assert short_money(lead.value_minor, "USD") in totals["contacted"]
    assert short_money(lead.value_minor, "USD") not in totals["new"]


def test_month_start_is_in_the_owners_zone():
    with override_settings(OWNER_TIMEZONE="Asia/Tokyo"):
        assert month_start(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert timezone.is_aware(month_start(timezone.now()))
