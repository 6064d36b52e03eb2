"""Racing intakes for one new address end as one lead, settled by PostgreSQL's unique index."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

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


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_bulk_insert_catch_up_takes_counter_locks_in_key_order(monkeypatch):
    """An import's count catch-up and a writer that locks counter rows in key order (as a move
    does) never deadlock: the catch-up waits on the lowest key instead of holding a higher one."""
    from django.db import connections, transaction

    from leads.db_triggers import lead_bulk_insert
    from leads.models import LeadCount, Stage

    monkeypatch.setattr("leads.db_triggers.random.randrange", lambda _n: 0)
    keys = sorted((stage, source, False) for stage in (Stage.NEW, Stage.CONTACTED, Stage.LOST) for source in ("a", "b"))
    LeadCount.objects.bulk_create([LeadCount(stage=s, source=src, unseen=u, shard=0, n=0) for s, src, u in keys])
    held, catch_up_started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer_in_key_order() -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                for index, (stage, source, unseen) in enumerate(keys):
                    cursor.execute(
                        "UPDATE leads_leadcount SET n = n WHERE stage = %s AND source = %s AND unseen = %s "
                        "AND shard = 0",
                        [stage, source, unseen],
                    )
                    if index == 0:
                        held.set()
                        catch_up_started.wait(10)
                        time.sleep(0.5)  # the catch-up is now waiting on (or past) the lowest key
                cursor.execute("COMMIT")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            other.close()

    thread = threading.Thread(target=writer_in_key_order)
    thread.start()
    assert held.wait(10)
    try:
        with transaction.atomic(), lead_bulk_insert(connection) as new_ids:
            leads = Lead.objects.bulk_create(
                Lead(name=f"Imported {i}", stage=stage, source=source, seen_at=timezone.now())
                for i, (stage, source, _unseen) in enumerate(reversed(keys * 3))
            )
            new_ids.extend(lead.pk for lead in leads)
            with connection.cursor() as cursor:  # a hash aggregate, a plan PostgreSQL may choose
                for setting in ("enable_sort", "enable_indexscan", "enable_bitmapscan"):
                    cursor.execute(f"SET LOCAL {setting} = off")
            catch_up_started.set()
    except BaseException as exc:
        errors.append(exc)
    finally:
        catch_up_started.set()
        thread.join()

    assert errors == []  # a deadlock aborts one of the two with "deadlock detected"
    counts = {(c.stage, c.source): c.n for c in LeadCount.objects.filter(shard=0)}
    assert counts == {(stage, source): 3 for stage, source, _unseen in keys}
