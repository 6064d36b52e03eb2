"""The booking page as a lead sees it: branding from settings, the month calendar, the zone list,
the error summary, cancelling without a reason, "book another time", the invite's headers."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin as django_admin
from django.core import mail
from django.core.files.base import ContentFile
from django.template import Context, Template
from django.utils import timezone

from bookings.admin import BookingAdmin
from bookings.links import manage_path
from bookings.models import Booking
from bookings.selectors import slots_for
from bookings.timezones import canonical_zone, canonical_zone_names, zone_choices, zone_label, zone_options_html
from clientsflow.site import site_settings, site_settings_update

pytestmark = pytest.mark.django_db

LA = "America/Los_Angeles"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def update_settings(django_capture_on_commit_callbacks):
    """site_settings_update, with its after-commit cache drop run (tests never commit)."""

    def update(**changes):
        with django_capture_on_commit_callbacks(execute=True):
            return site_settings_update(**changes)

    return update


@pytest.fixture
def slots(event_type):
    return slots_for(event_type=event_type)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def page(client, event_type, **query):
    params = "&".join(f"{k}={quote(str(v))}" for k, v in query.items())
    return client.get(f"/book/{event_type.slug}/?{params}")


def form_post(client, event_type, slot_start, **overrides):
    data = {
        "start": slot_start.astimezone(ZoneInfo(LA)).isoformat(),
        "timezone": LA,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "",
        "note": "",
        "website": "",
        **overrides,
    }
    return client.post(f"/book/{event_type.slug}/?tz={quote(LA)}", data)


def test_the_page_carries_the_agencys_branding_from_settings(client, event_type, media, update_settings):
    update_settings(
        agency_name="Brightline Studio",
        host_name="Sam Rivera",
        booking_headline="Talk to Sam about your website",
        brand_colour="#aa3300",
        logo=ContentFile(PNG, name="logo.png"),
        host_photo=ContentFile(PNG, name="sam.png"),
    )
    html = page(client, event_type, tz=LA).content.decode()
    assert "<h1>Talk to Sam about your website</h1>" in html
    assert "Sam Rivera · Brightline Studio" in html
    row = site_settings()
    logo_url = f"/media/{row.logo.name}"
    photo_url = f"/media/{row.host_photo.name}"
    assert f'src="{logo_url}" alt="Brightline Studio"' in html and f'src="{photo_url}"' in html
    assert " style=" not in html  # the CSP allows no inline style on public pages
    assert "owner" not in html.lower()
    # The files are served, images only, with their type from the extension.
    logo = client.get(logo_url)
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png" and b"".join(logo.streaming_content) == PNG
    # The colour reaches the page through /brand.css.
    css_href = re.search(r'href="(/brand\.css\?v=\d+)"', html).group(1)
    css = client.get(css_href)
    assert css["Content-Type"].startswith("text/css")
    assert "--brand: #aa3300;" in css.content.decode() and "--brand-ink: #ffffff;" in css.content.decode()


def test_branding_files_are_images_under_branding_only(client, media):
    (media / "branding").mkdir()
    (media / "branding" / "page.html").write_text("<script>alert(1)</script>")
    (media / "secret.png").write_bytes(PNG)
    (media / "branding" / "mark.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert client.get("/media/branding/page.html").status_code == 404
    assert client.get("/media/branding/../secret.png").status_code == 404
    assert client.get("/media/branding/%2e%2e/secret.png").status_code == 404
    svg = client.get("/media/branding/mark.svg")
    assert svg.status_code == 200 and "sandbox" in svg["Content-Security-Policy"]


def test_a_colour_that_is_not_hex_never_reaches_the_css(client, update_settings):
    update_settings(brand_colour="red;}")
    assert "--brand: #2458d3;" in client.get("/brand.css").content.decode()
    update_settings(brand_colour="#FE0")
    assert "--brand: #ffee00; --brand-ink: #111111;" in client.get("/brand.css").content.decode()


def test_month_calendar_marks_free_days_and_shows_the_chosen_days_times(client, event_type, slots):
    zone = ZoneInfo(LA)
    free_days = sorted({s.start.astimezone(zone).date() for s in slots})
    first = free_days[0]
    html = page(client, event_type, tz=LA).content.decode()
    # The first free day is chosen, its times listed; every free day of that month is a link.
    assert f'id="day-{first.isoformat()}"' in html and 'aria-current="date"' in html
    for day in (d for d in free_days if (d.year, d.month) == (first.year, first.month)):
        assert f'id="day-{day.isoformat()}"' in html
    first_times = [s for s in slots if s.start.astimezone(zone).date() == first]
    assert f">{first_times[0].start.astimezone(zone):%H:%M}</a>" in html
    # A weekend day (no hours) is not a link.
    weekend = next(d for d in (date.fromordinal(first.toordinal() + i) for i in range(7)) if d.weekday() == 5)
    if weekend.month == first.month:
        assert f'id="day-{weekend.isoformat()}"' not in html

    # Another day: its times, and the month nav keeps the zone.
    second = free_days[1]
    other = page(client, event_type, tz=LA, month=f"{second:%Y-%m}", day=second.isoformat()).content.decode()
    second_times = [s for s in slots if s.start.astimezone(zone).date() == second]
    assert f">{second_times[0].start.astimezone(zone):%H:%M}</a>" in other
    assert f'<h2 id="times-title">{second:%A %-d %B}</h2>' in other


def test_htmx_gets_only_the_picker(client, event_type, slots):
    first = slots[0].start.astimezone(ZoneInfo(LA)).date()
    response = client.get(
        f"/book/{event_type.slug}/?tz={quote(LA)}&month={first:%Y-%m}&day={first.isoformat()}", HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="picker" id="picker"') and "<html" not in html


def test_month_links_keep_the_zone_and_stop_at_this_month(client, event_type, slots):
    this_month = timezone.now().astimezone(ZoneInfo(LA)).date().replace(day=1)
    html = page(client, event_type, tz=LA, month=f"{this_month:%Y-%m}").content.decode()
    assert 'id="month-prev"' not in html  # nothing before this month
    asked_earlier = page(client, event_type, tz=LA, month="2020-01").content.decode()
    assert f"{this_month:%B %Y}</h2>" in asked_earlier
    if 'id="month-next"' in html:
        href = re.search(r'id="month-next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
        assert "tz=America%2FLos_Angeles" in href
        assert client.get(href).status_code == 200


def test_the_zone_list_is_canonical_with_the_visitors_first(client, event_type):
    names = canonical_zone_names()
    assert "Africa/Asmara" in names and "Europe/London" in names and "America/Argentina/Buenos_Aires" in names
    assert not {"Africa/Asmera", "US/Eastern", "Japan", "Etc/GMT+5", "America/Buenos_Aires"} & set(names)
    assert zone_choices("Asia/Tokyo")[0] == "Asia/Tokyo"
    html = page(client, event_type, tz="Asia/Tokyo").content.decode()
    options = re.findall(r'<option value="([^"]+)">', html)
    assert options[0] == "Asia/Tokyo" and "Africa/Asmera" not in options and len(options) == len(names)


def test_the_zone_options_built_once_are_what_the_template_loop_rendered():
    """The picker's options are joined from strings built once per process: the same HTML the
    template's loop over the zones, auto-escaped, would render."""
    loop = Template('{% for zone in zones %}<option value="{{ zone.name }}">{{ zone.label }}</option>{% endfor %}')
    for first in ("Asia/Tokyo", "Asia/Calcutta", "America/Argentina/Buenos_Aires", "Nowhere/<b>&"):
        zones = [{"name": name, "label": zone_label(name)} for name in zone_choices(first)]
        assert zone_options_html(first) == loop.render(Context({"zones": zones}))


def test_a_browser_reporting_an_old_zone_name_sees_its_canonical_name(client, event_type):
    assert canonical_zone("Asia/Calcutta") == "Asia/Kolkata" and canonical_zone("Europe/Paris") == "Europe/Paris"
    assert zone_choices("Asia/Calcutta")[0] == "Asia/Kolkata"
    html = page(client, event_type, tz="Asia/Calcutta").content.decode()
    options = re.findall(r'<option value="([^"]+)">', html)
    assert options[0] == "Asia/Kolkata" and "Asia/Calcutta" not in options


def test_the_error_summary_lists_every_invalid_field_with_a_link(client, event_type, slots):
    response = form_post(client, event_type, slots[0].start, name="", email="ada@")
    html = response.content.decode()
    assert response.status_code == 400
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert 'href="#id_name"' in summary and "Please tell us your name." in summary
    assert 'href="#id_email"' in summary and "That email address does not look right" in summary
    assert "Please correct 2 things before booking" in summary
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_email-error"' in html
    assert not Booking.objects.exists()


def test_confirmation_says_the_invite_follows_by_email_without_google(client, event_type, slots):
    response = form_post(client, event_type, slots[0].start)
    html = client.get(response["Location"]).content.decode()
    assert "The invite follows by email to ada@example.com, with a calendar file (.ics)" in html
    assert "Meet" not in html


def test_confirmation_never_promises_an_invite_that_was_blocked(
    client, event_type, slots, settings, django_capture_on_commit_callbacks
):
    settings.SEND_ALLOWLIST = ["*@agency.example"]  # the visitor's address is not on it
    with django_capture_on_commit_callbacks(execute=True):
        response = form_post(client, event_type, slots[0].start)
    booking = Booking.objects.get()
    assert booking.invite_status == Booking.InviteStatus.BLOCKED
    html = client.get(response["Location"]).content.decode()
    assert "We could not email the invite to ada@example.com" in html
    assert "follows by email" not in html and "on its way" not in html


def test_confirmation_names_the_meet_link_only_when_there_is_one(client, event_type, slots):
    response = form_post(client, event_type, slots[0].start)
    Booking.objects.update(meet_url="https://meet.google.com/abc-defg-hij")
    html = client.get(response["Location"]).content.decode()
    assert "The calendar invite with the Google Meet link is on its way" in html
    assert 'href="https://meet.google.com/abc-defg-hij"' in html


def test_the_lead_cancels_without_a_reason_and_can_book_another_time(client, event_type, slots):
    form_post(client, event_type, slots[0].start)
    booking = Booking.objects.get()
    path = manage_path(booking)
    response = client.post(path, {"action": "cancel", "reason": ""})
    assert response.status_code == 302
    booking.refresh_from_db()
    # Stored as given (nothing); only what people read says so.
    assert booking.status == Booking.Status.CANCELLED and booking.cancel_reason == ""
    assert booking.lead.events.filter(summary__endswith="cancelled by lead (manage link): no reason given").exists()
    assert BookingAdmin(Booking, django_admin.site).cancel_reason_display(booking) == "No reason given"
    html = client.get(response["Location"]).content.decode()
    assert "Your booking is cancelled" in html
    again = re.search(r'id="book-again" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert again == f"/book/{event_type.slug}/?tz=America%2FLos_Angeles"
    assert client.get(again).status_code == 200


def test_the_invite_names_its_charset_once(client, event_type, slots, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        form_post(client, event_type, slots[0].start)
    raw = mail.outbox[0].message().as_string()
    calendar_header = next(line for line in raw.splitlines() if line.startswith("Content-Type: text/calendar"))
    assert calendar_header.lower().count("charset") == 1
    assert 'method="REQUEST"' in calendar_header or "method=REQUEST" in calendar_header


def test_with_no_host_name_in_settings_pages_name_the_owner_name_never_the_hosts_username(
    client, event_type, slots, update_settings
):
    # A host row as a fresh install makes it: named after the staff account ("owner").
    event_type.host.name = "owner"
    event_type.host.save()
    update_settings(host_name="", owner_name="Sam Rivera", agency_name="Brightline Studio", booking_headline="")
    html = page(client, event_type, tz=LA).content.decode()
    assert "Sam Rivera · Brightline Studio" in html and "Intro call with Sam Rivera" in html
    assert "owner" not in html.lower()
    form_post(client, event_type, slots[0].start)
    manage = client.get(manage_path(Booking.objects.get())).content.decode()
    assert "Intro call with Sam Rivera" in manage
    assert "owner" not in manage.lower()
