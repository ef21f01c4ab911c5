"""Tables. None of them may hold a recipient, a personalisation value or anything derived from one.

A notification points at its recipient only as (job_id, job_row_number); the row itself lives in
the job's object in storage for the retention period.  Team members are the service's own staff
(trial-mode allow list), not members of the public; even their contact details are stored only
encrypted, beside a keyed lookup digest (notify.secrets).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TemplateType(StrEnum):
    sms = "sms"
    email = "email"


class KeyType(StrEnum):
    """GOV.UK Notify's key types; the API spells normal keys 'normal' and stores them as 'normal'."""

    normal = "normal"
    team = "team"
    test = "test"


class JobKind(StrEnum):
    api = "api"  # a group-committed batch of API sends
    upload = "upload"  # a spreadsheet uploaded by a service team


class JobStatus(StrEnum):
    pending = "pending"
    scheduled = "scheduled"
    in_progress = "in progress"
    finished = "finished"
    cancelled = "cancelled"
    error = "error"


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e], native_enum=False, length=20)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Service(Base):
    __tablename__ = "services"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    restricted: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true"), doc="trial mode: sends only to the team list"
    )
    message_limit: Mapped[int] = mapped_column(Integer, default=1000, server_default=text("1000"))
    rate_limit: Mapped[int] = mapped_column(
        Integer, default=3000, server_default=text("3000"), doc="API requests per 60 seconds"
    )
    international_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    data_retention_days: Mapped[int] = mapped_column(Integer, default=7, server_default=text("7"))
    timezone: Mapped[str] = mapped_column(
        String(64), default="America/New_York", server_default=text("'America/New_York'"), doc="for report times"
    )
    sms_provider: Mapped[str | None] = mapped_column(String(32), doc="NULL: the configured default")
    email_provider: Mapped[str | None] = mapped_column(String(32), doc="NULL: the configured default")
    created_at: Mapped[datetime] = _now()


class ServiceSmsSender(Base):
    __tablename__ = "service_sms_senders"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    sms_sender: Mapped[str] = mapped_column(String(32))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _now()


class ServiceEmailReplyTo(Base):
    __tablename__ = "service_email_reply_to"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    email_address: Mapped[str] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _now()


class TeamMember(Base):
    """A service's own staff contact, allowed as a recipient in trial mode and with team keys."""

    __tablename__ = "service_team_members"
    __table_args__ = (UniqueConstraint("service_id", "recipient_type", "recipient_lookup"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    recipient_type: Mapped[TemplateType] = mapped_column(_enum(TemplateType, "recipient_type"))
    recipient_encrypted: Mapped[bytes] = mapped_column(
        LargeBinary, doc="Fernet token under NOTIFY_SECRET_KEY of the normalised contact (E.164 or lower-cased email)"
    )
    recipient_lookup: Mapped[bytes] = mapped_column(
        LargeBinary, doc="keyed HMAC of the normalised contact (key derived from NOTIFY_SECRET_KEY, never stored)"
    )


class Template(Base):
    __tablename__ = "templates"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    template_type: Mapped[TemplateType] = mapped_column(_enum(TemplateType, "template_type"))
    subject: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TemplateVersion(Base):
    """Every version ever published, so a notification renders with the version it was sent with."""

    __tablename__ = "template_versions"

    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(String(255))
    template_type: Mapped[TemplateType] = mapped_column(_enum(TemplateType, "template_type"))
    subject: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    key_type: Mapped[KeyType] = mapped_column(_enum(KeyType, "key_type"))
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary, doc="Fernet token under NOTIFY_SECRET_KEY")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()


class Job(Base):
    """One recipient object in storage: an uploaded spreadsheet, or a group-committed batch of API sends."""

    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind, "job_kind"))
    object_key: Mapped[str] = mapped_column(String(255))
    row_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"), default=JobStatus.pending)
    template_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    original_file_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _now()
    # Spreadsheet uploads only -------------------------------------------------------------
    template_version: Mapped[int | None] = mapped_column(Integer)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    key_type: Mapped[KeyType | None] = mapped_column(_enum(KeyType, "key_type"))
    sender_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    header: Mapped[list[str] | None] = mapped_column(JSONB, doc="column names only; never cell values")
    recipient_column: Mapped[int | None] = mapped_column(Integer)
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    data_end: Mapped[int | None] = mapped_column(BigInteger)
    row_index_every: Mapped[int | None] = mapped_column(Integer)
    row_index: Mapped[list[int] | None] = mapped_column(
        ARRAY(BigInteger), doc="byte offset of every row_index_every-th row: the sparse row index"
    )
    billable_units: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    processing_started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    processing_finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="retention deleted the job's object; its rows are gone, the job row stays"
    )

    __table_args__ = (Index("ix_jobs_service_created", "service_id", "created_at"),)


class JobChunk(Base):
    """One delivery task's row range; ``done`` makes job completion idempotent under retries."""

    __tablename__ = "job_chunks"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    first_row: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_row: Mapped[int] = mapped_column(Integer)
    done: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # No foreign key: its per-row check halved bulk creation speed (migration 0008); rows are only
    # written for an existing job, and jobs are archived, never deleted.
    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    job_row_number: Mapped[int] = mapped_column(Integer)
    job_kind: Mapped[JobKind] = mapped_column(_enum(JobKind, "job_kind"))
    template_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    template_version: Mapped[int] = mapped_column(Integer)
    notification_type: Mapped[TemplateType] = mapped_column(_enum(TemplateType, "notification_type"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    key_type: Mapped[KeyType] = mapped_column(_enum(KeyType, "key_type"))
    client_reference: Mapped[str | None] = mapped_column(String(1000))
    sender_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), doc="sms sender or email reply-to")
    international: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    billable_units: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(20), default="created", server_default=text("'created'"))
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_reference: Mapped[str | None] = mapped_column(
        String(255, collation="C"), doc="opaque: compared byte-wise, which the receipt lookups need to be fast"
    )
    carrier: Mapped[str | None] = mapped_column(String(255))
    provider_response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("job_id", "job_row_number", name="uq_notifications_job_row"),
        Index("ix_notifications_service_created", "service_id", "created_at", "id"),
        Index(
            "ix_notifications_provider_reference",
            "provider_reference",
            postgresql_where=text("provider_reference IS NOT NULL"),
        ),
        # The timeout sweep reads one window of sends at a time. No index may mention status:
        # that would make every receipt a non-HOT update; BRIN keeps the claim HOT (migration 0009).
        Index("ix_notifications_sent_at", "sent_at", postgresql_using="brin"),
        # Room on each page for receipts to be HOT updates (migration 0009).
        {"postgresql_with": {"fillfactor": "80"}},
    )


class UsageCounter(Base):
    """Per-service counters shared by every API process: the daily limit and the rate-limit window.

    Keeping them in PostgreSQL (not process memory) is what makes the limits hold across any number
    of API processes; a row lock on the counter serialises concurrent batches of one service.
    """

    __tablename__ = "usage_counters"

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class SendRateBucket(Base):
    """A token bucket for one sender (``sms:+12025550100``, ``email:ses``), shared by every worker.

    Only ``notify_take_send_tokens`` (migration 0003) reads and writes it, in one locked statement.
    Sender numbers belong to the service, not to recipients, so they may be stored.
    """

    __tablename__ = "send_rate_buckets"

    bucket: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens: Mapped[float] = mapped_column()
    refilled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FactNotificationStatus(Base):
    """Daily notification counts (UTC days), written by retention so statistics outlive the rows."""

    __tablename__ = "ft_notification_status"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    template_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    notification_type: Mapped[TemplateType] = mapped_column(_enum(TemplateType, "notification_type"), primary_key=True)
    key_type: Mapped[KeyType] = mapped_column(_enum(KeyType, "key_type"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_ft_notification_status_service_day", "service_id", "day"),)


class ClosedFactDay(Base):
    """A service's UTC day whose facts are final: rolled up from all its rows once the day expired.

    Only then may the day's notifications be deleted, and its facts are never recomputed after,
    so a day half-deleted by an interrupted run can never overwrite its facts with smaller counts.
    """

    __tablename__ = "ft_closed_days"

    service_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# Retention looks for a service's expired jobs that still have an object; archived jobs (most
# of them, kept forever) stay out of this index, so the nightly scan does not grow with history.
Index("ix_jobs_unarchived", Job.service_id, Job.created_at, postgresql_where=Job.archived_at.is_(None))


class ReportExport(Base):
    """An asynchronous report export: what was asked for and where its file is, never its contents."""

    __tablename__ = "report_exports"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    scope: Mapped[dict] = mapped_column(JSONB)  # type: ignore[type-arg]
    row_count: Mapped[int | None] = mapped_column(Integer)
    rows_written: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    estimated_rows: Mapped[int | None] = mapped_column(Integer)
    object_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = _now()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data_from: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="the oldest row the export may hold: it goes when that row's retention ends"
    )

    __table_args__ = (
        Index("ix_report_exports_expires_at", "expires_at"),
        # The per-service export limits count a service's exports of today (migration 0010).
        Index("ix_report_exports_service_created", "service_id", "created_at"),
        # The export sweep (every minute) reads only exports not yet expired (migration 0010).
        Index("ix_report_exports_unexpired", "expires_at", postgresql_where=text("status <> 'expired'")),
    )


class ParkedReceipt(Base):
    """A receipt that arrived before its send was recorded; applied once it is (notify.receipts.apply)."""

    __tablename__ = "parked_receipts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    provider_reference: Mapped[str] = mapped_column(String(255, collation="C"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    carrier: Mapped[str | None] = mapped_column(String(255))
    provider_response: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class ReceiptSource(Base):
    """Where a receipt source has read up to (the CloudWatch poller's watermark), kept across restarts."""

    __tablename__ = "receipt_sources"

    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    position: Mapped[dict] = mapped_column(JSONB)  # type: ignore[type-arg]
    updated_at: Mapped[datetime] = _now()


class SnsMessageSeen(Base):
    """SNS message ids already accepted: a replayed (validly signed) message is rejected, not reapplied."""

    __tablename__ = "sns_messages_seen"

    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class ServiceCallback(Base):
    """Where a service wants its delivery statuses POSTed, and the bearer token it expects."""

    __tablename__ = "service_callbacks"

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    callback_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    bearer_token_encrypted: Mapped[bytes] = mapped_column(LargeBinary, doc="Fernet token under NOTIFY_SECRET_KEY")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CallbackOutbox(Base):
    """A final status still to be POSTed to its service; written by the receipt statement, ids only."""

    __tablename__ = "callback_outbox"

    notification_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    last_error: Mapped[str | None] = mapped_column(String(255), doc="HTTP status or error class, never a body")
    created_at: Mapped[datetime] = _now()
