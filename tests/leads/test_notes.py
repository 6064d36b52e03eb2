"""Notes: stored, on the timeline and in the audit log, rendered as safe markdown-lite."""

import pytest

from clientsflow.errors import DomainError, InvalidInput
from clientsflow.models import AuditEvent
from leads.markup import note_html
from leads.models import Lead, LeadEvent, Note
from leads.services.notes import note_add
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_a_note_is_stored_put_on_the_timeline_and_audited():
    lead = LeadFactory()
    note = note_add(lead=lead, body="  Called, **try again Thursday**.\nShe wants a quote.  ")
    assert Note.objects.get(pk=note.pk).body == "Called, **try again Thursday**.\nShe wants a quote."
    event = LeadEvent.objects.get(lead=lead, kind=LeadEvent.Kind.NOTE)
    assert event.summary == "Called, **try again Thursday**." and event.data == {"note_id": note.pk}
    audit = AuditEvent.objects.get(verb="lead.note_added", object_id=str(lead.pk))
    assert audit.details["note_id"] == note.pk


@pytest.mark.parametrize("body", ["", "   \n  ", "x" * 10_001])
def test_empty_or_huge_notes_are_refused_and_nothing_is_written(body):
    lead = LeadFactory()
    with pytest.raises(InvalidInput):
        note_add(lead=lead, body=body)
    assert not Note.objects.exists() and not LeadEvent.objects.filter(kind="note").exists()


def test_a_merged_lead_takes_no_notes():
    survivor = LeadFactory()
    merged = LeadFactory(merged_into=survivor)
    with pytest.raises(DomainError):
        note_add(lead=merged, body="hello")
    assert Lead.objects.count() == 2 and not Note.objects.exists()


def test_markdown_lite_renders_bold_italics_https_links_breaks_and_lists():
    html = str(note_html("**Big** and *small*\nsecond line\n\n- one\n- two\n\n[site](https://example.com/a?b=1&c=2)"))
    assert "<strong>Big</strong>" in html and "<em>small</em>" in html
    assert "<br>" in html and "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert (
        '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">site</a>'
        in html
    )


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](  javascript:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](http://plain.example.com)",
        '<a href="javascript:alert(1)">x</a>',
    ],
)
def test_no_raw_html_and_no_link_but_https_gets_through(body):
    html = str(note_html(body))
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert " href=" not in html.replace("&lt;a href=", "")


def test_script_in_a_note_is_shown_as_text():
    assert str(note_html("<script>alert(1)</script>")) == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
