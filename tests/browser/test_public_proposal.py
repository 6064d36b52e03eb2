"""The proposal page as a lead uses it, on a phone (390 px) and a desktop: who it is from, the
totals lined up, sign, the next step, download the signed PDF. No axe violations and nothing
in the console."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

from billing.models import Proposal, Signature
from billing.services.links import proposal_link_token
from tests.billing.conftest import sent_proposal
from tests.browser.conftest import VIEWPORTS, axe_violations, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _right_edges_aligned(page: Any) -> None:
    """Each total's amount sits on the same line as its label and ends at the table's right edge."""
    table = page.locator("table.lines").bounding_box()
    for row in page.locator("table.lines tfoot tr").all():
        label = row.locator("th").bounding_box()
        amount = row.locator("td").bounding_box()
        assert abs((amount["x"] + amount["width"]) - (table["x"] + table["width"])) <= 12
        assert amount["y"] < label["y"] + label["height"] and label["y"] < amount["y"] + amount["height"]


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_read_sign_next_step_and_pdf(new_page, viewport):
    proposal = sent_proposal(deposit_percent=50)
    token = proposal_link_token(proposal=proposal)
    page = new_page(viewport=VIEWPORTS[viewport], accept_downloads=True)
    page.goto(f"/p/{token}/")
    from_card = page.inner_text("#proposal-from")
    assert "Proposal from" in from_card and "Northwind Studio" in from_card
    assert "owner" not in page.inner_text("body").lower()
    _right_edges_aligned(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[viewport]["width"]
    assert axe_violations(page) == []
    save_screenshot(page, f"proposal-{viewport}", full_page=True)

    page.fill("#full_name", "Ada Lovelace")
    page.check("#consent")
    page.click("button:has-text('Sign')")
    page.wait_for_selector("#next-step")
    assert "Next step: we send you the invoice" in page.inner_text("#next-step")  # no Stripe here
    assert Proposal.objects.get().status == Proposal.Status.SIGNED
    assert axe_violations(page) == []
    save_screenshot(page, f"proposal-signed-{viewport}", full_page=True)

    with page.expect_download() as download_info:
        page.click("#download-pdf")
    download = download_info.value
    assert download.suggested_filename.endswith("-signed.pdf")
    data = download.path().read_bytes()
    reader = PdfReader(io.BytesIO(data))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert len(reader.pages) >= 1 and "Ada Lovelace" in text
    assert Signature.objects.get().content_sha256 in text.replace(" ", "")
