"""CSV imports started from the admin: upload, choose the columns, dry run, then a background run.

`lead_import_upload` keeps the file's bytes on a `LeadImport` row (any worker on any machine can
read them). `lead_import_dry_run` runs the real import for a chosen mapping inside a transaction
that is rolled back. `lead_import_start` moves the row `uploaded -> queued` by compare-and-swap,
so two clicks (or two staff) start one run, and queues `lead_import_run_task` after commit.

`lead_import_run` does the work in chunks through `lead_import_csv`: each chunk's leads, its
rejected rows, the new `last_row` and the counts commit in one transaction, under the row's lock
and only while this worker's `claim` still holds. A worker that dies leaves `running` with an old
heartbeat; `lead_imports_requeue_stale` (a dispatcher job) queues it again and the next worker
resumes after `last_row`, so no row is imported twice. In the embedded default tasks run
in-process right after the commit, so the import finishes there too.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from clientsflow.csvfiles import csv_writer
from clientsflow.errors import DomainError, InvalidInput
from leads.models import LeadEvent, LeadImport, LeadImportReject
from leads.services.importer import (
    FIELD_LABELS,
    HeaderMap,
    ImportFileError,
    ImportSummary,
    clean_source,
    count_rows,
    detect_delimiter,
    file_dialect,
    header_fields,
    lead_import_csv,
)

logger = logging.getLogger(__name__)

# How long a running import may go without finishing a chunk before it counts as abandoned.
STALE_AFTER = timedelta(minutes=10)
PREVIEW_ROWS = 10
# The fields a column can fill, in the order a mapping form offers them ("" ignores the column).
MAPPABLE_FIELDS: list[tuple[str, str]] = [(name, label.capitalize()) for name, label in FIELD_LABELS.items()]
# A ZIP (an .xlsx workbook), a PDF, images: refused by their first bytes with a useful message.
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook or another ZIP file",
    b"%PDF": "a PDF",
    b"\x89PNG": "an image",
    b"\xff\xd8\xff": "an image",
    b"GIF8": "an image",
    b"\xd0\xcf\x11\xe0": "an old Excel or Word file",
}


class ImportLost(DomainError):
    """Another worker took this import over (this one stalled); this worker stops."""


@contextmanager
def _as_file(lead_import: LeadImport) -> Iterator[Path]:
    """The upload as a file on this machine, for as long as the block runs."""
    with tempfile.TemporaryDirectory(prefix="lead-import-") as folder:
        path = Path(folder) / f"import-{lead_import.pk}.csv"
        path.write_bytes(bytes(lead_import.content))
        yield path


def max_upload_bytes() -> int:
    return int(settings.LEAD_IMPORT_MAX_BYTES)


def file_size_text(size: int) -> str:
    """1.5 MB, 12 KB: as a person reads a file's size."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(size / 1000))} KB"


def check_upload(*, file_name: str, size: int, head: bytes) -> None:
    """Refuse a file that is too large, empty or plainly not CSV text, before reading all of it."""
    limit = max_upload_bytes()
    if size > limit:
        raise InvalidInput(
            f"{file_name} is {file_size_text(size)}; files up to {file_size_text(limit)} can be imported. "
            "Split it into smaller files and import each."
        )
    if size == 0 or not head.strip():
        raise InvalidInput(f"{file_name} is empty; the first row must name the columns (for example Email).")
    for signature, kind in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise InvalidInput(
                f"{file_name} is {kind}, not a CSV file. In your spreadsheet choose File > Save as > "
                "'CSV UTF-8' and upload that file."
            )
    if b"\x00" in head:
        raise InvalidInput(f"{file_name} is not a CSV text file; save it as 'CSV UTF-8' and upload that file.")


@dataclass(frozen=True)
class ImportColumns:
    header: list[str]
    defaults: list[str]  # the field each column fills by its name, "" when none
    encoding: str
    delimiter: str


def _header(path: Path) -> tuple[list[str], str, str]:
    encoding, delimiter = file_dialect(path)
    with path.open("r", newline="", encoding=encoding) as handle:
        try:
            for cells in csv.reader(handle, delimiter=delimiter):
                if any(cell.strip() for cell in cells):
                    return cells, encoding, delimiter
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"This file is not a readable CSV file ({exc}).") from None
    raise ImportFileError("The file has no header row; the first row must name the columns (for example Email).")


def lead_import_upload(*, file_name: str, content: bytes, source: str, user: Any) -> LeadImport:
    """Keep an uploaded file for the mapping step, after checking it is CSV text with a header."""
    check_upload(file_name=file_name, size=len(content), head=content[:65536])
    source = clean_source(source or "csv")
    lead_import = LeadImport(
        file_name=Path(file_name).name[:255] or "upload.csv",
        file_size=len(content),
        content=content,
        source=source,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    with _as_file(lead_import) as path:
        header, _encoding, _delimiter = _header(path)
        lead_import.columns = header
        lead_import.mapping = header_fields(header)
        lead_import.total_rows = count_rows(path)
    lead_import.save()
    return lead_import


def lead_import_columns(*, lead_import: LeadImport) -> ImportColumns:
    with _as_file(lead_import) as path:
        header, encoding, delimiter = _header(path)
    defaults = header_fields(header)
    return ImportColumns(header=header, defaults=defaults, encoding=encoding, delimiter=delimiter)


def check_mapping(*, header: list[str], mapping: Sequence[str]) -> None:
    """Raise InvalidInput when a mapping fills a field twice or has no email and no phone."""
    try:
        HeaderMap.from_mapping(header, mapping)
    except ImportFileError as exc:
        raise InvalidInput(str(exc)) from None


@dataclass
class PreviewRow:
    number: int
    values: dict[str, str]
    outcome: str  # created | enriched | unchanged | rejected
    reason: str = ""


@dataclass
class DryRun:
    summary: ImportSummary
    rows: list[PreviewRow] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)


def _first_rows(path: Path, header_cells: list[str], count: int) -> list[tuple[int, list[str]]]:
    encoding, delimiter = file_dialect(path)
    rows: list[tuple[int, list[str]]] = []
    seen_header = False
    with path.open("r", newline="", encoding=encoding) as handle:
        for number, cells in enumerate(csv.reader(handle, delimiter=delimiter), start=1):
            if not any(cell.strip() for cell in cells):
                continue
            if not seen_header:
                seen_header = True
                continue
            rows.append((number, cells))
            if len(rows) >= count:
                break
    return rows


def lead_import_dry_run(*, lead_import: LeadImport, mapping: Sequence[str], shown: int = PREVIEW_ROWS) -> DryRun:
    """What importing with `mapping` would do now: the real import, rolled back.

    Each of the first `shown` rows gets its outcome from what the import wrote for it (the
    timeline event it left, found by the row number in its `via`) before the rollback.
    """
    rejects: dict[int, str] = {}

    def on_reject(number: int, reason: str, _cells: list[str]) -> None:
        rejects.setdefault(number, reason)

    with _as_file(lead_import) as path:
        header, _encoding, _delimiter = _header(path)
        check_mapping(header=header, mapping=mapping)
        first = _first_rows(path, header, shown)
        with transaction.atomic():
            before = LeadEvent.objects.aggregate(last=Max("pk"))["last"] or 0
            summary = lead_import_csv(
                path=path,
                source=lead_import.source,
                rejects_path=path.with_name("rejects.csv"),
                mapping=mapping,
                on_reject=on_reject,
            )
            prefixes = Q()
            for number, _cells in first:
                prefixes |= Q(data__via__startswith=f"csv {path.name} row {number} #")
            written: dict[int, str] = {}
            if first:
                for kind, data in LeadEvent.objects.filter(prefixes, pk__gt=before).values_list("kind", "data"):
                    number = int(str(data["via"]).split(" row ", 1)[1].split(" ", 1)[0])
                    if written.get(number) != "created":
                        written[number] = "created" if kind == LeadEvent.Kind.CREATED else "enriched"
            transaction.set_rollback(True)
    header_map = HeaderMap.from_mapping(header, mapping)
    rows = []
    for number, cells in first:
        values = {name: header_map.value(cells, name) for name in header_map.columns}
        if number in rejects:
            rows.append(PreviewRow(number=number, values=values, outcome="rejected", reason=rejects[number]))
        else:
            rows.append(PreviewRow(number=number, values=values, outcome=written.get(number, "unchanged")))
    return DryRun(summary=summary, rows=rows, rejects=sorted(rejects.items())[:shown])


def lead_import_start(*, lead_import_id: int, mapping: Sequence[str], user: Any) -> tuple[LeadImport, bool]:
    """Queue the one run of this upload. Returns (the import, whether this call started it).

    A compare-and-swap from `uploaded` (or `failed`, to go on from where it stopped): of two
    concurrent calls exactly one updates the row; the other gets the import as it is, already
    queued or running. A failed import resumes with the mapping it started with.
    """
    lead_import = LeadImport.objects.defer("content").get(pk=lead_import_id)
    if lead_import.status == LeadImport.Status.UPLOADED:
        with _as_file(LeadImport.objects.only("pk", "content").get(pk=lead_import_id)) as path:
            header, _encoding, _delimiter = _header(path)
        check_mapping(header=header, mapping=mapping)
    started_by = user if getattr(user, "is_authenticated", False) else None
    now = timezone.now()
    with transaction.atomic():
        started = LeadImport.objects.filter(pk=lead_import_id, status=LeadImport.Status.UPLOADED).update(
            status=LeadImport.Status.QUEUED, mapping=list(mapping), started_by=started_by, error="", heartbeat_at=now
        ) or LeadImport.objects.filter(pk=lead_import_id, status=LeadImport.Status.FAILED).update(
            status=LeadImport.Status.QUEUED, error="", finished_at=None, heartbeat_at=now
        )
        if started:
            lead_import_run_task.delay_on_commit(lead_import_id)
    lead_import.refresh_from_db(fields=["status", "mapping", "started_by", "error", "finished_at"])
    return lead_import, bool(started)


def _claim(lead_import_id: int) -> uuid.UUID | None:
    """Take the run: queued, or running with a heartbeat older than STALE_AFTER (its worker died)."""
    claim = uuid.uuid4()
    now = timezone.now()
    updated = (
        LeadImport.objects.filter(pk=lead_import_id)
        .filter(
            Q(status=LeadImport.Status.QUEUED)
            | Q(status=LeadImport.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
            | Q(status=LeadImport.Status.RUNNING, heartbeat_at__isnull=True)
        )
        .update(status=LeadImport.Status.RUNNING, claim=claim, heartbeat_at=now)
    )
    if not updated:
        return None
    LeadImport.objects.filter(pk=lead_import_id, started_at__isnull=True).update(started_at=now)
    return claim


def lead_import_run(*, lead_import_id: int) -> LeadImport:
    """Run (or resume) an import. Does nothing when another worker holds it or it has finished."""
    claim = _claim(lead_import_id)
    lead_import = LeadImport.objects.get(pk=lead_import_id)
    if claim is None:
        return lead_import
    base = {
        "created": lead_import.created_count,
        "enriched": lead_import.enriched_count,
        "unchanged": lead_import.unchanged_count,
        "rejected": lead_import.rejected_count,
        "rows_done": lead_import.rows_done,
    }
    expected_last = lead_import.last_row
    pending_rejects: list[LeadImportReject] = []

    def on_reject(number: int, reason: str, cells: list[str]) -> None:
        pending_rejects.append(
            LeadImportReject(lead_import_id=lead_import_id, row_number=number, reason=reason[:500], cells=cells)
        )

    def on_chunk(last_number: int, summary: ImportSummary) -> None:
        nonlocal expected_last
        row = LeadImport.objects.select_for_update().only("pk", "claim", "last_row").get(pk=lead_import_id)
        if row.claim != claim or row.last_row != expected_last:
            raise ImportLost("Another worker took this import over.")
        LeadImportReject.objects.bulk_create(pending_rejects)
        pending_rejects.clear()
        LeadImport.objects.filter(pk=lead_import_id).update(
            last_row=last_number,
            rows_done=base["rows_done"] + summary.rows + summary.blank,
            created_count=base["created"] + summary.created,
            enriched_count=base["enriched"] + summary.enriched,
            unchanged_count=base["unchanged"] + summary.unchanged,
            rejected_count=base["rejected"] + summary.rejected,
            heartbeat_at=timezone.now(),
        )
        expected_last = last_number

    try:
        with _as_file(lead_import) as path:
            lead_import_csv(
                path=path,
                source=lead_import.source,
                rejects_path=path.with_name("rejects.csv"),
                mapping=lead_import.mapping,
                start_after_row=lead_import.last_row,
                on_chunk=on_chunk,
                on_reject=on_reject,
            )
    except ImportLost:
        return LeadImport.objects.get(pk=lead_import_id)
    except (ImportFileError, DomainError) as exc:
        _fail(lead_import_id, claim, str(exc))
    except Exception as exc:
        logger.exception("leads.import_failed", extra={"lead_import_id": lead_import_id})
        _fail(
            lead_import_id,
            claim,
            f"The import stopped ({type(exc).__name__}). The rows before it are saved; choose "
            "'Go on with the import' to continue from there.",
        )
    else:
        now = timezone.now()
        # The line count was an estimate (quoted line breaks): the bar ends at what was read.
        LeadImport.objects.filter(pk=lead_import_id, claim=claim).update(
            status=LeadImport.Status.DONE,
            finished_at=now,
            heartbeat_at=now,
            content=b"",
            claim=None,
            total_rows=F("rows_done"),
        )
    return LeadImport.objects.get(pk=lead_import_id)


def _fail(lead_import_id: int, claim: uuid.UUID, error: str) -> None:
    LeadImport.objects.filter(pk=lead_import_id, claim=claim).update(
        status=LeadImport.Status.FAILED, error=error[:2000], finished_at=timezone.now(), claim=None
    )


def lead_imports_requeue_stale(*, older_than: timedelta = STALE_AFTER) -> int:
    """Queue again the imports whose worker was lost (queued or running, no heartbeat since)."""
    cutoff = timezone.now() - older_than
    stale = list(
        LeadImport.objects.filter(
            status__in=[LeadImport.Status.QUEUED, LeadImport.Status.RUNNING], heartbeat_at__lt=cutoff
        ).values_list("pk", flat=True)[:50]
    )
    for lead_import_id in stale:
        lead_import_run_task.delay(lead_import_id)
    return len(stale)


# An upload nobody imported is deleted after this long (it holds people's details).
ABANDONED_AFTER = timedelta(days=1)


def lead_imports_purge(*, older_than: timedelta) -> dict[str, int]:
    """Forget what imports hold about people once they are old: uploads never imported (after a
    day), and the file and rejected rows of finished or failed ones (after `older_than`). The
    import's own record (when, who, file name, counts) stays."""
    now = timezone.now()
    abandoned, _ = LeadImport.objects.filter(
        status=LeadImport.Status.UPLOADED, created_at__lt=now - ABANDONED_AFTER
    ).delete()
    old = LeadImport.objects.filter(
        status__in=[LeadImport.Status.DONE, LeadImport.Status.FAILED], created_at__lt=now - older_than
    )
    rejects, _ = LeadImportReject.objects.filter(lead_import__in=old).delete()
    emptied = old.exclude(content=b"").update(content=b"")
    return {"uploads_deleted": abandoned, "rejects_deleted": rejects, "files_emptied": emptied}


def _decoded(content: bytes) -> tuple[str, str]:
    """(text, encoding) of an upload, as the importer reads it: UTF-8 (BOM or not), else
    Windows-1252; Latin-1 for bytes neither takes (the importer refuses those files, but the
    person's details may still be in them)."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1"), "latin-1"


def lead_imports_naming(*, pattern: re.Pattern[str]) -> list[LeadImport]:
    """Imports whose kept file (uploaded, queued, running or failed: a finished one is emptied)
    has text matching `pattern`, without their content. Uploads are few and short-lived, so each
    file is read here in turn."""
    found = []
    pending = LeadImport.objects.exclude(content=b"").order_by("pk").values_list("pk", flat=True)
    for lead_import_id in list(pending):
        content = LeadImport.objects.filter(pk=lead_import_id).values_list("content", flat=True).first()
        if content and pattern.search(_decoded(bytes(content))[0]):
            found.append(LeadImport.objects.defer("content").get(pk=lead_import_id))
    return found


def lead_import_scrub(*, lead_import_id: int, pattern: re.Pattern[str], replacement: str) -> bool:
    """Empty every row of a kept upload that matches `pattern` (all its cells become empty, which
    the importer skips), so an import started or resumed later never brings that person back.
    The header keeps its columns, with any matching text replaced. Row numbers stay as they were
    (`last_row` and the rejected rows still point at the same rows). Returns whether it changed."""
    with transaction.atomic():
        lead_import = LeadImport.objects.select_for_update().filter(pk=lead_import_id).first()
        if lead_import is None or not lead_import.content:
            return False
        text, encoding = _decoded(bytes(lead_import.content))
        if not pattern.search(text):
            return False
        first_line = next((line for line in text.splitlines() if line.strip()), "")
        delimiter = detect_delimiter(first_line)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        header_seen = False
        for cells in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if not header_seen:
                header_seen = any(cell.strip() for cell in cells)
                cells = [pattern.sub(replacement, cell) for cell in cells]
            elif any(pattern.search(cell) for cell in cells):
                cells = [""] * len(cells)
            writer.writerow(cells)
        content = out.getvalue().encode(encoding, errors="replace")
        LeadImport.objects.filter(pk=lead_import_id).update(content=content, file_size=len(content))
    return True


def lead_import_rejects_write(*, lead_import: LeadImport, handle: IO[str]) -> None:
    """The rejected rows as CSV (row, reason, then the row's cells), formula cells defused."""
    writer = csv_writer(handle)
    writer.writerow(["row", "reason", *lead_import.columns])
    for reject in lead_import.rejects.order_by("row_number").iterator():
        writer.writerow([reject.row_number, reject.reason, *reject.cells])


# Defined beside the service that queues it (a services <-> tasks import cycle otherwise);
# `leads/tasks.py` imports it so the worker registers it. acks_late: a worker lost mid-import
# gets the task again, and the run resumes after its last committed chunk.
@shared_task(base=DjangoTask, name="leads.tasks.lead_import_run_task", acks_late=True)
def lead_import_run_task(lead_import_id: int) -> None:
    lead_import_run(lead_import_id=lead_import_id)
