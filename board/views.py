"""The owner's board and the lead page. Thin: selectors read, services write.

One view renders the full page or the partial HTMX asked for (`#board-body` for search and
filters, a column page for "load more"). The board's fragments are cached under
`board_version()` and the filters, for at most `BOARD_FRAGMENT_TTL_SECONDS`; every service that
changes what the board shows bumps the version, so all web processes sharing the cache agree.
Each column is cached on its own, under its stage's version and its count as well: a card moved
re-renders two columns, an arrival one; the counts and the recency bar are read fresh each time
from the counters and an index (see `leads.selectors.board_summary`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from board.forms import BoardFilterForm, MarkSeenForm, MoveForm
from board.selectors import board_column_page, board_columns, board_stages, card_for, lead_timeline, needs_you
from clientsflow.cache import BOARD_FRAGMENT_TTL_SECONDS, board_stage_versions, board_version
from clientsflow.errors import DomainError, IllegalStageMove, InvalidInput, StageConflict
from clientsflow.http import safe_next, wants_json
from leads.models import PIPELINE_ORDER, Lead, PossibleDuplicate, Stage
from leads.permissions import CHANGE_LEAD, VIEW_LEAD, Granted, granted_for, staff_permission_required
from leads.selectors import (
    CARD_FIELDS,
    RECENCY_WINDOWS,
    BoardFilters,
    BoardSummary,
    board_summary,
    decode_cursor,
    lead_for_page,
    lead_stage_history,
)
from leads.services.dedup import possible_duplicate_dismiss, possible_duplicate_merge, possible_duplicates_for_lead
from leads.services.seen import leads_mark_seen
from leads.services.stages import lead_mark_seen, lead_move_stage, stage_label

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


def _fragment_key(request: HttpRequest, name: str, key: str, *, versions: str = "") -> str:
    """Fragments are shared by everyone with the same permissions (the controls shown depend on them)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"board:v{board_version()}{versions}:{name}:{granted_for(request.user).cache_key}:{digest}"


def _cached_fragment(
    request: HttpRequest, name: str, key: str, build: Callable[[], str], *, versions: str = ""
) -> SafeString:
    cache_key = _fragment_key(request, name, key, versions=versions)
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


@dataclass(frozen=True)
class RenderedColumn:
    stage: str
    label: str
    count: int
    html: SafeString


def _render_columns(
    request: HttpRequest, filters: BoardFilters, summary: BoardSummary, context: dict[str, Any]
) -> list[RenderedColumn]:
    """Each column's HTML from the cache, keyed by its own version and count, so a move re-renders
    the two columns it touched (and an arrival the one it landed in); the cards of every column
    missing from the cache come from one batch of queries."""
    stages = board_stages(filters)
    versions = board_stage_versions(stages)
    filters_key = filters.cache_key()
    keys = {
        stage: _fragment_key(
            request, f"col-{stage}", filters_key, versions=f":s{versions[stage]}:n{summary.counts.get(stage, 0)}"
        )
        for stage in stages
    }
    html = cache.get_many(list(keys.values()))
    by_stage = {stage: html[keys[stage]] for stage in stages if keys[stage] in html}
    missing = [stage for stage in stages if stage not in by_stage]
    if missing:
        built = {
            column.stage: render_to_string("board/_column.html", {**context, "column": column})
            for column in board_columns(filters, now=context["rendered_at"], summary=summary, stages=missing)
        }
        cache.set_many({keys[stage]: text for stage, text in built.items()}, BOARD_FRAGMENT_TTL_SECONDS)
        by_stage.update(built)
    # Safe: rendered by our own templates with autoescaping on; the CSRF marker is swapped later.
    return [
        RenderedColumn(stage, stage_label(stage), summary.counts.get(stage, 0), mark_safe(by_stage[stage]))  # noqa: S308
        for stage in stages
    ]


def _render_body(request: HttpRequest, filters: BoardFilters, granted: Granted) -> SafeString:
    """The board's body: counts and the recency bar fresh on every request (a few indexed
    queries), the columns from their own cache entries."""
    now = timezone.now()
    summary = board_summary(filters, now=now)
    context: dict[str, Any] = {
        "csrf_token": _CSRF_MARKER,
        "filters": filters,
        "form": BoardFilterForm(
            initial={
                "q": filters.q,
                "source": filters.source,
                "stage": filters.stage,
                "since": filters.since,
                "unseen": filters.unseen,
            }
        ),
        "all_stages": [(stage, Stage(stage).label) for stage in PIPELINE_ORDER],
        "recency": summary.recency,
        "recency_windows": RECENCY_WINDOWS,
        "sources": summary.sources,
        "board_url": _board_url(filters),
        "filter_query": filters.querystring(),
        "rendered_at": now,
        "granted": granted,
    }
    context["columns"] = _render_columns(request, filters, summary, context)
    return _with_csrf(request, render_to_string("board/_board_body.html", context))


def _render_needs_you() -> str:
    return render_to_string("board/_needs_you.html", {"items": needs_you()})


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def board(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    body = _render_body(request, filters, granted_for(request.user))
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request and htmx.target == "board-body":
        response = HttpResponse(body)
    else:
        response = render(request, "board/board.html", {"body": body, "filters": filters})
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def board_needs_you(request: HttpRequest) -> HttpResponse:
    """The "needs you" panel: its own request (HTMX loads it beside the board; a plain link
    without JavaScript), so each app's count never weighs on the board's own render."""
    # An arrival or a lead seen bumps only its column's version: the unseen count is in here too.
    stage_versions = ",".join(str(v) for v in board_stage_versions(PIPELINE_ORDER).values())
    panel = _cached_fragment(request, "needs-you", "", _render_needs_you, versions=f":s{stage_versions}")
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
                "stage": stage,
                "next_cursor": next_cursor,
                "filter_query": filters.querystring(),
                "board_url": _board_url(filters),
                "granted": granted_for(request.user),
            },
        )

    cards_html = _cached_fragment(
        request,
        "column",
        f"{stage}|{cursor}|{filters.cache_key()}",
        build,
        versions=f":s{board_stage_versions([stage])[stage]}",
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
    try:
        lead_move_stage(
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
        return JsonResponse({"ok": True, "message": message, "stage": to_stage, "card": card_html})
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
