"""Find recipients by (job, row): the only way from a notification back to who it was for.

API batch objects are small and read whole; spreadsheets are read with one ranged GET that covers
just the wanted rows, found through the job's sparse row index, so a page of 250 rows never
downloads a 100,000-row file.  Each object is read at most once per call and nothing read is kept
afterwards.  A missing object (retention over) yields None instead of an error: the notification
row outlives its recipient by design.  A row that is there but cannot be read back (stored by an
older version, or damaged) yields an :class:`~notify.recipients.batch_file.UnreadableRow`, so
one bad row never fails a page, a delivery chunk or its neighbours.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from notify.db.models import JobKind, TemplateType
from notify.recipients.batch_file import MalformedRecipientFile, RecipientRow, StoredRow, UnreadableRow, decode_batch
from notify.recipients.spreadsheet_read import byte_range_for_rows, read_stored_rows
from notify.storage import ObjectNotFound, ObjectStore

RowKey = tuple[uuid.UUID, int]


@dataclass(frozen=True, slots=True)
class JobFile:
    """Where a job's recipients are and the file's shape; holds no recipient data."""

    job_id: uuid.UUID
    kind: JobKind
    object_key: str
    template_type: TemplateType | None = None
    header: Sequence[str] = ()
    recipient_column: int = 0
    row_offsets: Sequence[tuple[int, int]] = ()
    data_end: int = 0
    row_count: int = 0


async def read_rows(
    store: ObjectStore, file: JobFile, row_numbers: Iterable[int], *, default_region: str
) -> dict[int, StoredRow | None]:
    """Each wanted row: its recipient, an :class:`UnreadableRow`, or None once the file is gone.

    Storage errors other than a missing object still raise: they are transient, and callers retry.
    """
    wanted = sorted(set(row_numbers))
    if not wanted:
        return {}
    try:
        if file.kind is JobKind.api:
            found = decode_batch(await store.get(file.object_key), wanted, key=file.object_key)
        else:
            found = await _read_spreadsheet_rows(store, file, wanted, default_region)
    except ObjectNotFound:
        return {n: None for n in wanted}
    except MalformedRecipientFile:
        return {n: UnreadableRow(n, "the stored batch is not a batch file") for n in wanted}
    return {n: found.get(n) for n in wanted}


async def _read_spreadsheet_rows(
    store: ObjectStore, file: JobFile, wanted: list[int], default_region: str
) -> dict[int, StoredRow]:
    start, end, start_row = byte_range_for_rows(file.row_offsets, file.data_end, wanted[0], wanted[-1])
    data = await store.get_range(file.object_key, start, end)
    keep = set(wanted)
    found: dict[int, StoredRow] = {}
    for row in read_stored_rows(
        data,
        first_row_number=start_row,
        header=list(file.header),
        recipient_column=file.recipient_column,
        template_type=file.template_type or TemplateType.sms,
        default_region=default_region,
        # Validity was enforced when the file was accepted; reading back only normalises.
        allow_international=True,
        skip_bom=start == 0,
    ):
        if isinstance(row, UnreadableRow):
            if row.and_after:
                found.update((n, UnreadableRow(n, row.reason)) for n in wanted if n >= row.row_number)
                break
            found[row.row_number] = row
        elif row.row_number in keep:
            found[row.row_number] = RecipientRow(row.row_number, row.recipient, row.values)
        if row.row_number >= wanted[-1]:
            break
    return found


async def read_recipients(
    store: ObjectStore, files: Mapping[uuid.UUID, JobFile], wanted: Iterable[RowKey], *, default_region: str
) -> dict[RowKey, StoredRow | None]:
    rows_by_job: dict[uuid.UUID, list[int]] = defaultdict(list)
    for job_id, row_number in wanted:
        rows_by_job[job_id].append(row_number)

    async def one_job(job_id: uuid.UUID, numbers: list[int]) -> dict[RowKey, StoredRow | None]:
        found = await read_rows(store, files[job_id], numbers, default_region=default_region)
        return {(job_id, n): row for n, row in found.items()}

    results: dict[RowKey, StoredRow | None] = {}
    for part in await asyncio.gather(*(one_job(j, rows) for j, rows in rows_by_job.items())):
        results.update(part)
    return results
