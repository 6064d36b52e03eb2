"""`clientsflow.compiled`: a query compiled once gives, for each call's values, the rows the ORM
gives for those values; a query whose SQL depends on a value is refused, not cached wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, QuerySet
from django.test.utils import CaptureQueriesContext

from clientsflow import compiled
from clientsflow.compiled import CompileMismatch, compiled_instances, compiled_select
from leads.models import Lead

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _leads() -> list[Lead]:
    made = []
    for n in range(6):
        lead = Lead.objects.create(name=f"Lead {n}", email=f"l{n}@example.com", email_normalized=f"l{n}@example.com")
        Lead.objects.filter(pk=lead.pk).update(created_at=T0 - timedelta(hours=n))
        made.append(lead)
    return made


def _recent(values: dict[str, Any]) -> QuerySet[Any, Any]:
    return (
        Lead.objects.filter(pk__in=values["ids"], created_at__gte=values["since"], created_at__lt=values["until"])
        .order_by("-created_at")
        .values_list("pk", "created_at")
    )


def test_each_call_gets_the_rows_the_orm_gives_for_its_own_values():
    leads = _leads()
    key = ("test-recent", object())  # a key of this test only
    for ids, since in (
        ([leads[0].pk, leads[1].pk, leads[4].pk], T0 - timedelta(hours=2)),
        ([leads[2].pk, leads[3].pk, leads[5].pk], T0 - timedelta(hours=9)),
        ([leads[0].pk, leads[3].pk, leads[5].pk], T0 - timedelta(minutes=30)),
    ):
        values = {"ids": ids, "since": since}
        derived = {"until": lambda v: v["since"] + timedelta(hours=4)}
        expected = list(_recent({**values, "until": since + timedelta(hours=4)}))
        got = compiled_select(key, _recent, values, derived=derived)
        assert got == expected
        assert all(isinstance(at, datetime) and at.tzinfo is not None for _pk, at in got)  # converted as the ORM does


def test_after_the_first_call_the_query_is_not_built_again():
    leads = _leads()
    built = []

    def build(values: dict[str, Any]) -> QuerySet[Any, Any]:
        built.append(values)
        return Lead.objects.filter(pk__in=values["ids"]).only("name", "created_at").order_by("pk")

    key = ("test-instances", object())
    compiled_instances(Lead, key, build, {"ids": [leads[0].pk, leads[1].pk]})
    first_builds = len(built)  # the plan (stand-ins) and its check with the real values
    with CaptureQueriesContext(connection) as ctx:
        got = compiled_instances(Lead, key, build, {"ids": [leads[2].pk, leads[3].pk]})
    assert len(built) == first_builds
    assert len(ctx.captured_queries) == 1
    assert [(lead.pk, lead.name, lead.created_at) for lead in got] == [
        (lead.pk, lead.name, lead.created_at)
        for lead in Lead.objects.filter(pk__in=[leads[2].pk, leads[3].pk]).order_by("pk")
    ]
    assert got[0].get_deferred_fields()  # only() kept: the other fields load on access, as the ORM's do


def test_a_query_whose_sql_depends_on_a_value_is_refused():
    _leads()

    def build(values: dict[str, Any]) -> QuerySet[Any, Any]:
        query = Lead.objects.filter(created_at__gte=values["since"])
        if values["since"].year > 2000:  # a branch on the value: the SQL changes with it
            query = query.filter(name__startswith="Lead")
        return query.values_list("pk")

    with pytest.raises(CompileMismatch):
        compiled_select(("test-branch", object()), build, {"since": T0 - timedelta(days=1)})


def test_a_value_the_query_does_not_use_is_refused():
    with pytest.raises(CompileMismatch):
        compiled_select(
            ("test-unused", object()),
            lambda _values: Lead.objects.values_list("stage").annotate(n=Count("id")),
            {"since": T0},
        )


def test_the_compiled_shapes_stay_bounded(monkeypatch):
    """A shape per free-text filter (a source typed in the URL) must not grow the process for ever."""
    monkeypatch.setattr(compiled, "_PLANS", {})
    monkeypatch.setattr(compiled, "MAX_PLANS", 2)
    for n in range(3):
        compiled_select(("bounded", n), lambda v: Lead.objects.filter(pk__in=v["ids"]).values_list("pk"), {"ids": [1]})
    assert len(compiled._PLANS) == 2
    assert (("bounded", 0), "default") not in compiled._PLANS
