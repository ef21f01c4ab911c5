"""Accept a spreadsheet: validate it while it streams into object storage, then commit the job.

The upload is validated as it arrives and written straight to its final key under ``uploads/``
with a multipart upload; if validation fails at any point the upload is abandoned, so nothing is
ever stored for a bad file, nothing touches a temp file, and memory does not grow with the file.
Only once the whole file is valid and fits today's allowance do the job row and its first task
commit, together.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from notify.catalogue.services import ServiceRecord, is_team_member
from notify.db.commit_outcome import CommitOutcome, CommitOutcomeUnknown, commit_outcome, transaction_id
from notify.db.models import JobKind, JobStatus, KeyType, TemplateType
from notify.jobs.records import JobRecord, insert_job
from notify.log_config import get_logger
from notify.recipients.spreadsheet import FileRejected, SpreadsheetValidator, ValidatedFile, parse_rows
from notify.runtime import Runtime
from notify.sending import allowance
from notify.sending.lookups import checked_sender, usable_template
from notify.sending.submit import (
    TEAM_KEY_MESSAGE,
    TRIAL_MODE_MESSAGE,
    RecipientNotAllowed,
    ServiceInactive,
    team_only,
)
from notify.storage import upload_key

logger = get_logger(__name__)


class InvalidSchedule(ValueError):
    """scheduled_for is in the past, too far ahead, or not a time."""


class FileExceedsAllowance(Exception):
    def __init__(self, rows: int, remaining: int) -> None:
        super().__init__(
            f"This file has {rows} rows but the service can only send {remaining} more messages today"
        )
        self.rows, self.remaining = rows, remaining


@dataclass(frozen=True, slots=True)
class UploadRequest:
    template_id: uuid.UUID
    file_name: str
    scheduled_for: datetime | None = None
    sender_id: uuid.UUID | None = None


def check_schedule(scheduled_for: datetime | None, max_hours: int, now: datetime) -> datetime | None:
    if scheduled_for is None:
        return None
    when = scheduled_for if scheduled_for.tzinfo else scheduled_for.replace(tzinfo=UTC)
    if when <= now:
        raise InvalidSchedule("scheduled_for datetime cannot be in the past")
    if when > now + timedelta(hours=max_hours):
        raise InvalidSchedule(f"scheduled_for datetime can only be up to {max_hours} hours in the future")
    return when


async def accept_upload(
    runtime: Runtime,
    service: ServiceRecord,
    api_key_id: uuid.UUID | None,
    key_type: KeyType,
    request: UploadRequest,
    chunks: AsyncIterable[bytes],
) -> JobRecord:
    """Raises FileRejected (400), TemplateUnusable, UnknownSender, InvalidSchedule, FileExceedsAllowance."""
    if not service.active:
        raise ServiceInactive("Service is not active")
    settings = runtime.settings
    now = datetime.now(UTC)
    scheduled_for = check_schedule(request.scheduled_for, settings.max_schedule_hours, now)
    template = await usable_template(runtime, service.id, request.template_id)
    await checked_sender(runtime, service, template.template_type, request.sender_id)
    counted = key_type is not KeyType.test
    if counted:
        async with runtime.engine.connect() as conn:
            remaining = await allowance.daily_remaining(conn, service.id, limit=service.message_limit, now=now)
        if remaining == 0:
            raise FileExceedsAllowance(0, 0)

    validator = SpreadsheetValidator(
        template_type=template.template_type,
        template_content=template.content,
        template_subject=template.subject,
        default_region=settings.default_phone_region,
        allow_international=service.international_sms,
        max_rows=settings.max_upload_rows,
        max_bytes=settings.max_upload_bytes,
        index_every=settings.row_index_every,
        max_columns=settings.max_upload_columns,
        max_cell_chars=settings.max_upload_cell_chars,
    )
    validated: list[ValidatedFile] = []

    async def checked() -> AsyncIterator[bytes]:
        # Validation is CPU work (a few µs a row, a second for a big chunk): it runs on a worker
        # thread, one chunk at a time, so the event loop keeps answering every other request.
        async for chunk in chunks:
            await asyncio.to_thread(validator.feed, chunk)
            yield chunk
        finished = await asyncio.to_thread(validator.finish)  # raising here abandons the upload
        if any("\x00" in column for column in finished.header):
            raise FileRejected(
                "malformed_csv", "The header row contains a NUL character. Save the file again as CSV UTF-8."
            )
        validated.append(finished)

    job_id = uuid.uuid4()
    key = upload_key(service.id, job_id)
    file_name = _printable(request.file_name) or "upload.csv"
    await runtime.store.put_stream(key, checked())
    file = validated[0]
    taken = False
    xid: int | None = None
    job: JobRecord | None = None
    try:
        if team_only(service, key_type):
            await _check_team_only(runtime, service, template.template_type, key, file, key_type)
        if counted:
            async with runtime.engine.begin() as conn:
                taken = await allowance.take_daily(
                    conn, service.id, file.row_count, limit=service.message_limit, now=now
                )
                if not taken:
                    left = await allowance.daily_remaining(conn, service.id, limit=service.message_limit, now=now)
                    raise FileExceedsAllowance(file.row_count, left)
        async with runtime.engine.begin() as conn:
            xid = await transaction_id(conn)
            job = await insert_job(
                conn,
                job_id=job_id,
                service_id=service.id,
                kind=JobKind.upload,
                object_key=key,
                file=file,
                template=template,
                api_key_id=api_key_id,
                key_type=key_type,
                sender_id=request.sender_id,
                original_file_name=file_name,
                scheduled_for=scheduled_for,
                status=JobStatus.scheduled if scheduled_for else JobStatus.pending,
            )
            await runtime.defer_job_start(conn, job_id, scheduled_for)
    except BaseException as exc:
        # The job transaction may have committed even though its COMMIT went unanswered: then the
        # job exists and must keep its file and its allowance.
        outcome = await commit_outcome(runtime.engine, xid)
        if outcome is CommitOutcome.committed:
            logger.warning("job committed without acknowledgement", action="job.commit_unacknowledged",
                           job_id=str(job_id), error=type(exc).__name__)
        elif outcome is CommitOutcome.unknown:
            logger.warning("job outcome unknown; file and allowance kept", action="job.outcome_unknown",
                           job_id=str(job_id), error=type(exc).__name__)
            raise CommitOutcomeUnknown(
                f"We could not confirm that the job was stored, and it may have been: check GET /v2/jobs/{job_id} "
                "before uploading the file again"
            ) from None
        else:
            await runtime.store.delete(key)
            if taken:
                async with runtime.engine.begin() as conn:
                    await allowance.release_daily(conn, service.id, file.row_count, now=now)
            raise
    assert job is not None
    logger.info("job accepted", action="job.accepted", job_id=str(job_id), rows=file.row_count)
    return job


def _printable(name: str) -> str:
    """File names come from the client; keep them to printable text (no NUL or control characters)."""
    return "".join(ch for ch in name if ch.isprintable()).strip()[:255]


async def _check_team_only(
    runtime: Runtime, service: ServiceRecord, kind: TemplateType, key: str, file: ValidatedFile, key_type: KeyType
) -> None:
    """Trial mode and team keys may send only to the team list: check every row of the stored file."""
    data = await runtime.store.get(key)
    rows = parse_rows(
        data[file.row_offsets[0][1] : file.data_end],
        first_row_number=0,
        header=file.header,
        recipient_column=file.recipient_column,
        template_type=kind,
        default_region=runtime.settings.default_phone_region,
        allow_international=service.international_sms,
        skip_bom=False,
    )
    async with runtime.engine.connect() as conn:
        for row in rows:
            if not await is_team_member(conn, runtime.secrets, service.id, kind, row.recipient):
                raise RecipientNotAllowed(TEAM_KEY_MESSAGE if key_type is KeyType.team else TRIAL_MODE_MESSAGE)


__all__ = ["FileExceedsAllowance", "FileRejected", "InvalidSchedule", "UploadRequest", "accept_upload"]
