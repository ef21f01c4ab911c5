"""Find recipients by (job, row): the only way from a notification back to who it was for.

Objects are read concurrently, each once per call, and nothing read is kept beyond the call.
A missing object (retention expired) yields None rather than an error: the notification row
outlives its recipient by design.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping

from notify.recipients.batch_file import RecipientRow, decode_batch
from notify.storage import ObjectNotFound, ObjectStore

RowKey = tuple[uuid.UUID, int]


async def read_recipients(
    store: ObjectStore, object_keys: Mapping[uuid.UUID, str], wanted: Iterable[RowKey]
) -> dict[RowKey, RecipientRow | None]:
    rows_by_job: dict[uuid.UUID, list[int]] = defaultdict(list)
    for job_id, row_number in wanted:
        rows_by_job[job_id].append(row_number)

    async def one_job(job_id: uuid.UUID, row_numbers: list[int]) -> dict[RowKey, RecipientRow | None]:
        key = object_keys[job_id]
        try:
            data = await store.get(key)
        except ObjectNotFound:
            return {(job_id, n): None for n in row_numbers}
        found = decode_batch(data, row_numbers, key=key)
        return {(job_id, n): found.get(n) for n in row_numbers}

    results: dict[RowKey, RecipientRow | None] = {}
    for part in await asyncio.gather(*(one_job(j, rows) for j, rows in rows_by_job.items())):
        results.update(part)
    return results
