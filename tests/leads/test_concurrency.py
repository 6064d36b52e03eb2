"""Racing intakes for one new address end as one lead, settled by PostgreSQL's unique index."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from leads.models import Lead, LeadEvent
from leads.services.intake import LeadData, lead_intake


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
# savepoint=False is the webhook inbox's way: the losers' INSERTs skip the conflict (ON CONFLICT
# DO NOTHING, after the winner commits) and look again, with no savepoint to roll back to.
@pytest.mark.parametrize("savepoint", [True, False])
def test_simultaneous_intakes_of_one_new_lead_create_it_once(savepoint):
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    created: list[bool] = []

    def arrive(n: int) -> None:
        try:
            data = LeadData.build(email="Race@Example.com", name=f"Racer {n}")
            barrier.wait()
            created.append(lead_intake(data=data, source="website", savepoint=savepoint).created)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(created) == [False] * 7 + [True]
    lead = Lead.objects.get()
    assert LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.DUPLICATE_INTAKE).count() == 7
