"""The owner's board and the lead page. Thin: selectors read, services write.

One view renders the full page or the partial HTMX asked for (`#board-body` for search and
filters, a column page for "load more"). The board's fragments are cached under
`board_version()` and the filters, for at most `BOARD_FRAGMENT_TTL_SECONDS`; every service that
changes what the board shows bumps the version, so all web processes sharing the cache agree.
Each column is cached on its own, under its stage's version and its count as well, and each card
under its lead's own card fields: a card moved re-renders that card and two column shells, an
arrival one of each; the counts and the recency bar are read fresh each time from the counters
and an index (see `leads.selectors.board_summary`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_POST

from billing.money import to_minor
from board.forms import BoardFilterForm, BulkMoveForm, MarkSeenForm, MoveForm, UndoForm, ValueForm
from board.lead_views import lead_page_context
from board.selectors import (
    BoardMoney,
    Card,
    CardExtras,
    Column,
    ShownCount,
    board_column_newest,
    board_column_page,
    board_money,
    board_stages,
    card_extras,
    card_for,
    cards_for,
    lead_timeline,
    needs_you,
)
from board.templatetags.board import confirm_shared, relative_time, short_money
from clientsflow.cache import (
    BOARD_FRAGMENT_TTL_SECONDS,
    board_fragments,
    board_lead_versions,
    board_version,
    board_versions,
)
from clientsflow.errors import DomainError, IllegalStageMove, InvalidInput, StageConflict
from clientsflow.http import safe_next, wants_json
from clientsflow.site import site_settings, site_settings_pinned
from leads.cards import CardConfirm
from leads.models import ALLOWED_MOVES, CARD_FIELDS, PIPELINE_ORDER, Lead, PossibleDuplicate, Stage
from leads.permissions import CHANGE_LEAD, VIEW_LEAD, Granted, granted_for, staff_permission_required
from leads.selectors import (
    RECENCY_WINDOWS,
    BoardFilters,
    BoardSummary,
    board_summary,
    column_stamps,
    decode_cursor,
    lead_for_page,
    lead_stage_history,
)
from leads.services.dedup import possible_duplicate_dismiss, possible_duplicate_merge, possible_duplicates_for_lead
from leads.services.owner_edits import lead_value_set
from leads.services.seen import leads_mark_seen
from leads.services.stages import lead_mark_seen, lead_move_stage, lead_move_undo, stage_label

logger = logging.getLogger(__name__)

# Cached fragments are rendered with this in place of the CSRF token, so each `{% csrf_token %}`
# comes out as CSRF_PLACEHOLDER: a whole `<input>` tag, which autoescaped lead text can never
# produce (it would read `&lt;input`). Each response swaps the tag for one carrying its own token.
_CSRF_MARKER = "__clientsflow_csrf_token__"
CSRF_PLACEHOLDER = str(format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', _CSRF_MARKER))
BOARD_URL = "/board/"


def _with_csrf(request: HttpRequest, html: str) -> SafeString:
    # Safe: the HTML was rendered by our own templates, with autoescaping on.
    csrf_input = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))
    return mark_safe(html.replace(CSRF_PLACEHOLDER, csrf_input))  # noqa: S308


def _fragment_key(request: HttpRequest, name: str, key: str, *, versions: str = "", version: int | None = None) -> str:
    """Fragments are shared by everyone with the same permissions (the controls shown depend on them)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    board = board_version() if version is None else version
    return f"board:v{board}{versions}:{name}:{granted_for(request.user).cache_key}:{digest}"


def _cached_fragment(
    request: HttpRequest,
    name: str,
    key: str,
    build: Callable[[], str],
    *,
    versions: str = "",
    version: int | None = None,
) -> SafeString:
    cache_key = _fragment_key(request, name, key, versions=versions, version=version)
    html = cache.get(cache_key)
    if html is None:
        html = build()
        cache.set(cache_key, html, BOARD_FRAGMENT_TTL_SECONDS)
    return _with_csrf(request, html)


def _filters(request: HttpRequest) -> BoardFilters:
    return BoardFilterForm(request.GET).filters()


def _board_url(filters: BoardFilters) -> str:
    query = filters.querystring()
    return f"{BOARD_URL}?{query}" if query else BOARD_URL


def _confirm_specs(cards: list[Card]) -> list[CardConfirm]:
    """Each distinct shared part of the cards' confirm specs, to render once (_confirm_specs.html)."""
    specs: dict[tuple[str, ...], CardConfirm] = {}
    for card in cards:
        for action in card.actions:
            if action.confirm is not None:
                specs.setdefault(confirm_shared(action.confirm), action.confirm)
    return list(specs.values())


@dataclass(frozen=True)
class RenderedColumn(ShownCount):
    stage: str
    label: str
    count: int
    html: SafeString
    capped: bool = False


CardEntry = tuple[str, list[CardConfirm]]  # a card's HTML and the confirm specs its actions use

# A card's HTML under the address of everything it is made of (`_card_content_key`): nothing ever
# makes such an entry wrong, so it may outlive the board's versions and their 60 s.
CARD_CONTENT_TTL_SECONDS = 3600


class _Writes:
    """The cache entries one render made, written together at the end: one round trip to Redis per
    lifetime instead of one per kind of fragment."""

    def __init__(self) -> None:
        self.short: dict[str, Any] = {}  # under the board's versions, BOARD_FRAGMENT_TTL_SECONDS
        self.long: dict[str, Any] = {}  # content-addressed cards, CARD_CONTENT_TTL_SECONDS

    def flush(self) -> None:
        board_fragments.set_many(self.short, BOARD_FRAGMENT_TTL_SECONDS)
        board_fragments.set_many(self.long, CARD_CONTENT_TTL_SECONDS)


def _own_fields(lead: Lead) -> str:
    return "\x1f".join(str(getattr(lead, name)) for name in CARD_FIELDS)


def _card_key(lead: Lead, *, version: int, lead_version: int, granted: Granted) -> str:
    """A card's cache key: everything the card shows from the lead's own row is in it, so an edit,
    a move or a "seen" is a new key without anyone bumping anything; what other apps show on it
    (badges, actions) is in the lead's version (or the board's) they bump; the controls, in the
    permissions."""
    digest = hashlib.sha256(_own_fields(lead).encode()).hexdigest()[:24]
    return f"board:v{version}:card:{granted.cache_key}:{lead.pk}:l{lead_version}:{digest}"


def _card_content_key(card: Card, *, granted: Granted, now: datetime) -> str:
    """The address of a card's HTML: its lead's fields, the relative time it reads now, every
    badge and action, the permissions. After a change that bumps the board version (another app's
    badge on one card) the cards that did not change find their HTML here and are not rendered again."""
    content = "\x1e".join(
        (
            _own_fields(card.lead),
            relative_time(card.lead.created_at, now),
            repr(card.badges),
            repr(card.actions),
            granted.cache_key,
        )
    )
    return f"board:card-html:{hashlib.sha256(content.encode()).hexdigest()[:32]}"


def _extras_key(lead_id: int, *, version: int, lead_version: int) -> str:
    return f"board:v{version}:extras:{lead_id}:l{lead_version}"


def _cards_html(
    leads: list[Lead], *, granted: Granted, version: int, now: datetime, writes: _Writes
) -> dict[int, CardEntry]:
    """Each lead's card from the cache, with the other apps' badges and actions of those that need
    rendering (one round trip, after one for the leads' versions); the cards missing are built from one batch of badge and action
    queries for the leads lacking them only, so a move re-renders one card; a card whose content
    did not change (after another app bumped the board version) is found under its content's
    address (a second round trip) rather than rendered again."""
    if not leads:
        return {}
    lead_versions = board_lead_versions([lead.pk for lead in leads])
    keys = {
        lead.pk: _card_key(lead, version=version, lead_version=lead_versions[lead.pk], granted=granted)
        for lead in leads
    }
    extras_keys = {
        lead.pk: _extras_key(lead.pk, version=version, lead_version=lead_versions[lead.pk]) for lead in leads
    }
    found = board_fragments.get_many([*keys.values(), *extras_keys.values()])
    entries: dict[int, CardEntry] = {pk: found[key] for pk, key in keys.items() if key in found}
    missing = [lead for lead in leads if lead.pk not in entries]
    if not missing:
        return entries
    # The other apps' badges and actions, cached per lead under the board version they bump: a
    # card re-rendered because its lead moved or was seen reads only the leads app's own badges.
    extras: dict[int, CardExtras] = {
        lead.pk: found[extras_keys[lead.pk]] for lead in missing if extras_keys[lead.pk] in found
    }
    lacking = [lead.pk for lead in missing if lead.pk not in extras]
    if lacking:
        fresh = card_extras(lacking)
        writes.short.update({extras_keys[pk]: fresh[pk] for pk in lacking})
        extras.update(fresh)
    cards = cards_for(missing, extras=extras)
    content_keys = {card.lead.pk: _card_content_key(card, granted=granted, now=now) for card in cards}
    rendered = board_fragments.get_many(list(content_keys.values()))
    template = get_template("board/_card.html")
    for card in cards:
        pk = card.lead.pk
        entry = rendered.get(content_keys[pk])
        if entry is None:
            entry = (
                template.render({"card": card, "granted": granted, "csrf_token": _CSRF_MARKER}),
                _confirm_specs([card]),
            )
            writes.long[content_keys[pk]] = entry
        writes.short[keys[pk]] = entry
        entries[pk] = entry
    return entries


def _render_columns(
    filters: BoardFilters,
    summary: BoardSummary,
    money: BoardMoney,
    context: dict[str, Any],
    *,
    stages: list[str],
    keys: dict[str, str],
    found: dict[str, Any],
    version: int,
    writes: _Writes,
) -> tuple[list[RenderedColumn], list[CardConfirm]]:
    """Each column's HTML from the cache (`found`, read by the caller under `keys`: its stage's
    version and its count), so a move re-renders the two columns it touched (and an arrival the
    one it landed in); a column missing from the cache is a shell around its cards, which come
    from their own cache entries (`_cards_html`). A column's entry keeps the confirm specs its
    cards use, so the page renders each shared one once."""
    by_stage: dict[str, tuple[str, list[CardConfirm]]] = {
        stage: found[keys[stage]] for stage in stages if keys[stage] in found
    }
    missing = [stage for stage in stages if stage not in by_stage]
    if missing:
        newest = board_column_newest(filters, stages=missing, now=context["rendered_at"], summary=summary)
        cards = _cards_html(
            [lead for column in newest for lead in column.leads],
            granted=context["granted"],
            version=version,
            now=context["rendered_at"],
            writes=writes,
        )
        for column in newest:
            entries = [cards[lead.pk] for lead in column.leads]
            shell = Column(
                stage=column.stage,
                label=stage_label(column.stage),
                count=summary.counts.get(column.stage, 0),
                capped=column.stage in summary.capped,
                cards=[],
                next_cursor=column.next_cursor,
                total=money.columns.get(column.stage),
            )
            # Safe: each card was rendered by our own template with autoescaping on.
            cards_html = mark_safe("".join(html for html, _specs in entries))  # noqa: S308
            html = render_to_string("board/_column.html", {**context, "column": shell, "cards_html": cards_html})
            by_stage[column.stage] = (html, [spec for _html, specs in entries for spec in specs])
            writes.short[keys[column.stage]] = by_stage[column.stage]
    specs: dict[tuple[str, ...], CardConfirm] = {}
    for stage in stages:
        for spec in by_stage[stage][1]:
            specs.setdefault(confirm_shared(spec), spec)
    # Safe: rendered by our own templates with autoescaping on; the CSRF marker is swapped later.
    rendered = [
        RenderedColumn(
            stage,
            stage_label(stage),
            summary.counts.get(stage, 0),
            mark_safe(by_stage[stage][0]),  # noqa: S308
            capped=stage in summary.capped,
        )
        for stage in stages
    ]
    return rendered, list(specs.values())


def _render_body(request: HttpRequest, filters: BoardFilters, granted: Granted) -> SafeString:
    """The board's body: counts and the recency bar fresh on every request (a few indexed
    queries), the money and the columns from their own cache entries.

    Round trips to the cache, whatever the number of leads or columns: the versions (one), the
    money and every column (one); when columns are missing, their leads' versions (one), their
    cards and badges (one, and one more for the cards to render), and what was built (one write
    per lifetime)."""
    now = timezone.now()
    stages = board_stages(filters)
    versions = board_versions(list(PIPELINE_ORDER))
    version, stage_versions = versions.board, versions.stages
    summary = board_summary(filters, now=now)
    filters_key = filters.cache_key()
    # A column's cache entries are keyed on its version in the cache (bumped by the other apps'
    # changes to its cards, and by edits) and on its stamp in the database (moved by every arrival,
    # move, "seen", merge and delete there, in the writer's own transaction).
    column = {stage: f"{stage_versions[stage]}.{summary.stamps.get(stage, 0)}" for stage in PIPELINE_ORDER}
    # Totals, forecast and this month's revenue, kept until any column (or the board) changes.
    stamp = "-".join(column.values())
    money_key = _fragment_key(request, "money", filters_key, versions=f":m{stamp}:{now:%Y%m}", version=version)
    keys = {
        stage: _fragment_key(
            request,
            f"col-{stage}",
            filters_key,
            versions=f":s{column[stage]}:n{summary.counts.get(stage, 0)}{'+' if stage in summary.capped else ''}",
            version=version,
        )
        for stage in stages
    }
    found = board_fragments.get_many([money_key, *keys.values()])
    writes = _Writes()
    money = found.get(money_key)
    if not isinstance(money, BoardMoney):
        money = board_money(filters, now=now)
        writes.short[money_key] = money
    context: dict[str, Any] = {
        "csrf_token": _CSRF_MARKER,
        "filters": filters,
        "all_stages": [(stage, Stage(stage).label) for stage in PIPELINE_ORDER],
        "recency": summary.recency,
        "recency_windows": RECENCY_WINDOWS,
        "sources": summary.sources,
        "board_url": _board_url(filters),
        "filter_query": filters.querystring(),
        "rendered_at": now,
        "granted": granted,
        "money": money,
        "owner_timezone": settings.OWNER_TIMEZONE,
    }
    context["columns"], context["confirm_specs"] = _render_columns(
        filters, summary, money, context, stages=stages, keys=keys, found=found, version=version, writes=writes
    )
    writes.flush()
    return _with_csrf(request, render_to_string("board/_board_body.html", context))


def _render_needs_you() -> str:
    items = needs_you()
    return render_to_string("board/_needs_you.html", {"items": items, "clear": [i for i in items if not i.count]})


def _filters_of(url: str) -> BoardFilters:
    """The filters of the board page a request came from (its `next`), so totals match what it shows."""
    return BoardFilterForm(QueryDict(urlsplit(url).query)).filters()


def _totals_html(filters: BoardFilters, stages: list[str]) -> dict[str, str]:
    """Fresh column headers (count and total) for `stages` and the forecast bar, as out-of-band
    swaps: what a move or a value change sends back so the board's figures match the database."""
    now = timezone.now()
    summary = board_summary(filters, now=now)
    counts = summary.counts
    money = board_money(filters, now=now)
    heads: dict[str, str] = {
        stage: render_to_string(
            "board/_column_head.html",
            {
                "oob": True,
                "column": Column(
                    stage=stage,
                    label=Stage(stage).label,
                    count=counts.get(stage, 0),
                    capped=stage in summary.capped,
                    cards=[],
                    total=money.columns.get(stage),
                ),
            },
        )
        for stage in dict.fromkeys(stages)
        if stage in PIPELINE_ORDER
    }
    heads["money"] = render_to_string("board/_board_money.html", {"oob": True, "money": money, "filters": filters})
    return heads


def _move_buttons() -> list[tuple[str, str, str]]:
    """(stage, label, the stages it can be reached from) for the one shared "Move to…" menu."""
    return [
        (stage, Stage(stage).label, " ".join(s for s in PIPELINE_ORDER if stage in ALLOWED_MOVES[Stage(s)]))
        for stage in PIPELINE_ORDER
    ]


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def board(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    with site_settings_pinned() as config:  # read in several places below: one cache round trip
        body = _render_body(request, filters, granted_for(request.user))
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request and htmx.target == "board-body":
        response = HttpResponse(body)
    else:
        response = render(
            request,
            "board/board.html",
            {
                "body": body,
                "filters": filters,
                "move_buttons": _move_buttons(),
                "default_currency": config.default_currency,
            },
        )
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def board_needs_you(request: HttpRequest) -> HttpResponse:
    """The "needs you" panel: its own request (HTMX loads it beside the board; a plain link
    without JavaScript), so each app's count never weighs on the board's own render."""
    # An arrival or a lead seen moves only its column's stamp: the unseen count is in here too.
    versions = board_versions(list(PIPELINE_ORDER))
    stamps = column_stamps()
    stamp = ",".join(f"{versions.stages[stage]}.{stamps[stage]}" for stage in PIPELINE_ORDER)
    panel = _cached_fragment(request, "needs-you", "", _render_needs_you, versions=f":s{stamp}", version=versions.board)
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        return HttpResponse(panel)
    return render(request, "board/needs_you.html", {"panel": panel})


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def board_column(request: HttpRequest, stage: str) -> HttpResponse:
    """'Load more' for one column: the next page after the cursor, paged in the database."""
    if stage not in PIPELINE_ORDER:
        raise Http404("No such stage.")
    filters = _filters(request)
    cursor = request.GET.get("after", "")
    after = decode_cursor(cursor) if cursor else None
    if cursor and after is None:
        return HttpResponse("That 'load more' link is out of date; reload the board.", status=400)
    htmx = getattr(request, "htmx", None)

    def build() -> str:
        cards, next_cursor = board_column_page(filters, stage=stage, after=after)
        return render_to_string(
            "board/_cards_page.html",
            {
                "csrf_token": _CSRF_MARKER,
                "cards": cards,
                "confirm_specs": _confirm_specs(cards),
                "stage": stage,
                "next_cursor": next_cursor,
                "filter_query": filters.querystring(),
                "board_url": _board_url(filters),
                "granted": granted_for(request.user),
            },
        )

    versions = board_versions([stage])
    cards_html = _cached_fragment(
        request,
        "column",
        f"{stage}|{cursor}|{filters.cache_key()}",
        build,
        versions=f":s{versions.stages[stage]}.{column_stamps()[stage]}",
        version=versions.board,
    )
    if htmx and not htmx.history_restore_request:
        response = HttpResponse(cards_html)
    else:
        response = render(
            request,
            "board/column.html",
            {"cards_html": cards_html, "stage": stage, "label": stage_label(stage), "board_url": _board_url(filters)},
        )
    patch_vary_headers(response, ("HX-Request",))
    return response


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def lead_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        lead = lead_for_page(public_id)
    except Lead.DoesNotExist:
        raise Http404("No lead with this id; it may have been deleted.")
    granted = granted_for(request.user)
    # Opening the lead's page is what "seen" means (see leads/services/seen.py); for someone
    # who may change leads, since a read-only viewer's visit is not the owner's.
    if CHANGE_LEAD in granted:
        lead_mark_seen(lead=lead)
    card = card_for(lead)
    return render(
        request,
        "board/lead_detail.html",
        {
            "lead": lead,
            "card": card,
            "history": lead_stage_history(lead),
            "timeline": lead_timeline(lead),
            "external_ids": sorted((lead.external_ids or {}).items()),
            "owner_timezone": settings.OWNER_TIMEZONE,
            "granted": granted,
            "possible_duplicates": [
                (pair, pair.lead_b if pair.lead_a_id == lead.pk else pair.lead_a)
                for pair in possible_duplicates_for_lead(lead)
            ],
            **lead_page_context(request, lead),
        },
    )


def _move_refused(request: HttpRequest, message: str, status: int, next_url: str) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"ok": False, "error": message}, status=status)
    messages.error(request, f"Not moved: {message}")
    return HttpResponseRedirect(next_url)


@require_POST
@staff_permission_required(CHANGE_LEAD)
def lead_move(request: HttpRequest, public_id: str) -> HttpResponse:
    """Move a card. JSON for the board's script (4xx with the reason when refused); a redirect
    back with a message for the plain form that works without JavaScript."""
    form = MoveForm(request.POST)
    next_url = safe_next(request, request.POST.get("next", ""), default=BOARD_URL)
    if not form.is_valid():
        return _move_refused(request, form.error_message(), 400, next_url)
    try:
        lead = Lead.objects.get(public_id=public_id)
    except (Lead.DoesNotExist, ValueError):
        return _move_refused(request, "This lead no longer exists; reload the board.", 404, next_url)
    to_stage = form.cleaned_data["to_stage"]
    from_stage = lead.stage
    try:
        change = lead_move_stage(
            lead=lead,
            to_stage=to_stage,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            expected_stage=form.cleaned_data["expected_stage"] or None,
        )
    except StageConflict as exc:
        return _move_refused(request, str(exc), 409, next_url)
    except IllegalStageMove as exc:
        return _move_refused(request, str(exc), 422, next_url)
    except (InvalidInput, DomainError) as exc:
        return _move_refused(request, str(exc), 400, next_url)
    # Moving a card by hand means the owner has seen it.
    lead_mark_seen(lead=lead)
    lead.refresh_from_db(fields=["seen_at"])
    logger.info("board.lead_moved", extra={"lead_id": lead.pk, "to_stage": to_stage})
    message = f"Saved: {lead} moved to {stage_label(to_stage)}."
    if wants_json(request):
        card_html = render_to_string(
            "board/_card.html",
            {"card": card_for(lead), "board_url": next_url, "granted": granted_for(request.user)},
            request,
        )
        return JsonResponse(
            {
                "ok": True,
                "message": message,
                "stage": to_stage,
                "card": card_html,
                "undo": {"url": reverse("board:lead-move-undo", args=[lead.public_id]), "change": change.pk},
                "totals": _totals_html(_filters_of(next_url), [from_stage, to_stage]),
            }
        )
    messages.success(request, message)
    return HttpResponseRedirect(f"{next_url.split('#')[0]}#card-{lead.public_id}")


@require_POST
@staff_permission_required(CHANGE_LEAD)
def board_mark_seen(request: HttpRequest) -> HttpResponse:
    form = MarkSeenForm(request.POST)
    next_url = safe_next(request, request.POST.get("next", ""), default=BOARD_URL)
    if not form.is_valid():
        messages.error(request, "Nothing was marked: reload the board and try again.")
        return HttpResponseRedirect(next_url)
    marked = leads_mark_seen(up_to=form.cleaned_data["up_to"], actor=request.user)
    messages.success(request, f"Marked {marked} lead{'s' if marked != 1 else ''} as seen.")
    return HttpResponseRedirect(next_url)


def _possible_duplicate(public_id: str, pk: int) -> tuple[Lead, PossibleDuplicate]:
    try:
        lead = Lead.objects.get(public_id=public_id)
        pair = PossibleDuplicate.objects.select_related("lead_a", "lead_b").get(pk=pk)
    except (Lead.DoesNotExist, PossibleDuplicate.DoesNotExist):
        raise Http404("No such possible duplicate; reload the lead's page.") from None
    if lead.pk not in (pair.lead_a_id, pair.lead_b_id):
        raise Http404("No such possible duplicate for this lead.")
    return lead, pair


@require_POST
@staff_permission_required(CHANGE_LEAD)
def lead_duplicate_merge(request: HttpRequest, public_id: str, pk: int) -> HttpResponse:
    """ "Merge into this lead": the other lead of the pair is folded into this one (undoable)."""
    lead, pair = _possible_duplicate(public_id, pk)
    try:
        merge = possible_duplicate_merge(pair=pair, survivor=lead, actor=request.user)
    except DomainError as exc:
        messages.error(request, f"Not merged: {exc}")
    else:
        messages.success(
            request,
            f"Merged {merge.duplicate} into {lead}. Undo it from Lead merges in the admin (merge #{merge.pk}) "
            "if it was a mistake.",
        )
    return HttpResponseRedirect(reverse("board:lead-detail", args=[lead.public_id]))


@require_POST
@staff_permission_required(CHANGE_LEAD)
def lead_duplicate_dismiss(request: HttpRequest, public_id: str, pk: int) -> HttpResponse:
    """ "Not the same person": the pair is closed and not suggested again."""
    lead, pair = _possible_duplicate(public_id, pk)
    try:
        possible_duplicate_dismiss(pair=pair, actor=request.user)
    except DomainError as exc:
        messages.error(request, f"Nothing changed: {exc}")
    else:
        messages.success(request, "Noted: these are two different people.")
    return HttpResponseRedirect(reverse("board:lead-detail", args=[lead.public_id]))


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def lead_card(request: HttpRequest, public_id: str) -> HttpResponse:
    """One card as it is now, for the board's script to swap in after an app's card action (e.g.
    cancelling a call) saved: the app answers for its own change, the board renders its card."""
    try:
        lead = Lead.objects.only(*CARD_FIELDS).get(public_id=public_id, merged_into__isnull=True)
    except Lead.DoesNotExist:
        raise Http404("No lead with this id; reload the board.") from None
    board_url = safe_next(request, request.GET.get("next", ""), default=BOARD_URL)
    return render(
        request,
        "board/_card.html",
        {"card": card_for(lead), "board_url": board_url, "granted": granted_for(request.user)},
    )


@require_POST
@staff_permission_required(CHANGE_LEAD)
def lead_undo_move(request: HttpRequest, public_id: str) -> HttpResponse:
    """ "Undo" on the toast after a move: the lead goes back where it was, through the stage
    service (refused with the reason when it moved again since)."""
    form = UndoForm(request.POST)
    next_url = safe_next(request, request.POST.get("next", ""), default=BOARD_URL)
    if not form.is_valid():
        return _move_refused(request, "The undo could not be read; reload the board.", 400, next_url)
    try:
        lead = Lead.objects.get(public_id=public_id)
    except (Lead.DoesNotExist, ValueError):
        return _move_refused(request, "This lead no longer exists; reload the board.", 404, next_url)
    before = lead.stage
    try:
        back = lead_move_undo(lead=lead, change_id=form.cleaned_data["change"], actor=request.user)
    except StageConflict as exc:
        return _move_refused(request, str(exc), 409, next_url)
    except (IllegalStageMove, InvalidInput, DomainError) as exc:
        return _move_refused(request, str(exc), 422, next_url)
    message = f"Undone: {lead} is back in {stage_label(back.to_stage)}."
    if wants_json(request):
        card_html = render_to_string(
            "board/_card.html",
            {"card": card_for(lead), "board_url": next_url, "granted": granted_for(request.user)},
            request,
        )
        return JsonResponse(
            {
                "ok": True,
                "message": message,
                "stage": back.to_stage,
                "card": card_html,
                "totals": _totals_html(_filters_of(next_url), [before, back.to_stage]),
            }
        )
    messages.success(request, message)
    return HttpResponseRedirect(f"{next_url.split('#')[0]}#card-{lead.public_id}")


@require_POST
@staff_permission_required(CHANGE_LEAD)
def lead_value(request: HttpRequest, public_id: str) -> HttpResponse:
    """Set a deal's value from the board's card menu (an HTMX form): answers with the card and,
    out of band, its column's header and the forecast, so the totals on screen follow at once."""
    form = ValueForm(request.POST)
    next_url = safe_next(request, request.POST.get("next", ""), default=BOARD_URL)
    htmx = getattr(request, "htmx", None)

    def refused(message: str, status: int) -> HttpResponse:
        if htmx:
            response = HttpResponse(message, status=status)
            response["HX-Retarget"] = "#value-error"
            response["HX-Reswap"] = "innerHTML"
            return response
        messages.error(request, f"Value not saved: {message}")
        return HttpResponseRedirect(next_url)

    try:
        lead = Lead.objects.get(public_id=public_id, merged_into__isnull=True)
    except (Lead.DoesNotExist, ValueError):
        return refused("This lead no longer exists; reload the board.", 404)
    if not form.is_valid():
        return refused(form.error_message(), 422)
    amount = form.cleaned_data["amount"].strip().lstrip("$€£¥").strip()
    currency = (form.cleaned_data["currency"] or site_settings().default_currency).strip().upper()
    try:
        minor = to_minor(amount, currency) if amount else None
        changed = lead_value_set(lead=lead, amount_minor=minor, currency=currency, actor=request.user, by_staff=True)
    except (InvalidInput, DomainError) as exc:
        return refused(str(exc), 422)
    card = card_for(lead)
    value_text = short_money(lead.value_minor, lead.value_currency) if lead.value_minor is not None else ""
    message = f"Saved: {lead}'s value is {value_text}." if lead.value_minor is not None else f"Cleared {lead}'s value."
    if not changed:
        message = f"{lead}'s value was already {value_text}." if lead.value_minor is not None else "Nothing to change."
    logger.info("board.lead_value_set", extra={"lead_id": lead.pk, "changed": changed})
    if htmx:
        totals = _totals_html(_filters_of(next_url), [lead.stage])
        html = render_to_string(
            "board/_card.html", {"card": card, "board_url": next_url, "granted": granted_for(request.user)}, request
        )
        response = HttpResponse(html + "".join(totals.values()))
        response["HX-Trigger"] = json.dumps({"board:saved": {"message": message}})
        return response
    messages.success(request, message)
    return HttpResponseRedirect(f"{next_url.split('#')[0]}#card-{lead.public_id}")


BULK_LIMIT = 200


@require_POST
@staff_permission_required(CHANGE_LEAD)
def board_bulk(request: HttpRequest) -> HttpResponse:
    """Move (or mark lost, with a reason) the selected cards in one request: each lead through the
    stage service on its own, so one refusal never stops the others; each refusal is reported."""
    form = BulkMoveForm(request.POST)
    next_url = safe_next(request, request.POST.get("next", ""), default=BOARD_URL)
    if not form.is_valid():
        return _move_refused(request, form.error_message(), 400, next_url)
    posted = request.POST.getlist("lead")
    if len(posted) > BULK_LIMIT:
        return _move_refused(request, f"Select at most {BULK_LIMIT} leads at a time.", 400, next_url)
    to_stage = form.cleaned_data["to_stage"]
    reason = form.cleaned_data["reason"]
    # A lead listed twice is moved once; the stage each was seen in is keyed by its cleaned id, so
    # an id in another spelling still gets its conflict check.
    expected: dict[str, str] = {}
    valid_ids: list[str] = []
    failed: list[dict[str, str]] = []
    for raw, seen in zip(posted, [*request.POST.getlist("expected"), *[""] * len(posted)], strict=False):
        try:
            public_id = str(uuid.UUID(raw))
        except ValueError:
            failed.append({"lead": raw, "name": raw, "error": "This is not a lead's id; reload the board."})
            continue
        if public_id not in expected:
            valid_ids.append(public_id)
            expected[public_id] = seen
    leads = {str(lead.public_id): lead for lead in Lead.objects.filter(public_id__in=valid_ids)}
    moved: list[str] = []
    for public_id in valid_ids:
        lead = leads.get(public_id)
        if lead is None:
            failed.append({"lead": public_id, "name": public_id, "error": "This lead no longer exists."})
            continue
        try:
            lead_move_stage(
                lead=lead,
                to_stage=to_stage,
                actor=request.user,
                reason=reason,
                expected_stage=expected.get(public_id) or None,
            )
        except DomainError as exc:
            failed.append({"lead": public_id, "name": str(lead), "error": str(exc)})
            continue
        lead_mark_seen(lead=lead)
        moved.append(public_id)
    target = stage_label(to_stage)
    message = f"Moved {len(moved)} lead{'s' if len(moved) != 1 else ''} to {target}."
    if failed:
        message += f" {len(failed)} not moved: " + "; ".join(f"{f['name']}: {f['error']}" for f in failed)
    logger.info("board.bulk_moved", extra={"to_stage": to_stage, "moved": len(moved), "failed": len(failed)})
    if wants_json(request):
        return JsonResponse(
            {"ok": not failed, "moved": moved, "failed": failed, "message": message, "stage": to_stage},
            status=200,
        )
    if moved:
        messages.success(request, f"Moved {len(moved)} lead{'s' if len(moved) != 1 else ''} to {target}.")
    for failure in failed:
        messages.error(request, f"Not moved: {failure['name']}: {failure['error']}")
    return HttpResponseRedirect(next_url)


FAVICON = Path(__file__).resolve().parent.parent / "static" / "board" / "favicon.svg"


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on every page (the admin's too): the board's icon."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/svg+xml")
