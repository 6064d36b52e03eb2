"""The bench's export section: every lead on the board streamed out, with its rate and memory."""

from __future__ import annotations

import pytest

from leads.models import Lead
from privacy.bench import export_bench

pytestmark = pytest.mark.django_db


def test_export_bench_streams_every_lead_and_reports_rate_and_memory():
    figures = export_bench(quick=True, log=lambda message: None)
    assert figures["rows"] == figures["leads"] == Lead.objects.count() >= 2000
    assert figures["streamed"] is True
    assert figures["rows_per_second"] > 0 and figures["megabytes"] > 0.1
    assert figures["rss_peak_mb"] >= figures["rss_start_mb"] > 0
