"""initial schema

Revision ID: 0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The task queue's schema, applied on the raw psycopg connection: it is plain multi-statement SQL
    # with `$$` bodies that SQLAlchemy's text() parameter parsing must not touch.
    op.get_bind().connection.driver_connection.execute(SchemaManager.get_schema())
    op.create_table('services',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('restricted', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('message_limit', sa.Integer(), server_default=sa.text('1000'), nullable=False),
    sa.Column('rate_limit', sa.Integer(), server_default=sa.text('3000'), nullable=False),
    sa.Column('international_sms', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('data_retention_days', sa.Integer(), server_default=sa.text('7'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services')),
    sa.UniqueConstraint('name', name=op.f('uq_services_name'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('service_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('key_type', sa.Enum('normal', 'team', 'test', name='key_type', native_enum=False, length=20), nullable=False),
    sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_api_keys_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys'))
    )
    op.create_index(op.f('ix_api_keys_service_id'), 'api_keys', ['service_id'], unique=False)
    op.create_table('jobs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('service_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('api', 'upload', name='job_kind', native_enum=False, length=20), nullable=False),
    sa.Column('object_key', sa.String(length=255), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'scheduled', 'in progress', 'finished', 'cancelled', 'error', name='job_status', native_enum=False, length=20), nullable=False),
    sa.Column('template_id', sa.UUID(), nullable=True),
    sa.Column('original_file_name', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_jobs_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    op.create_index('ix_jobs_service_created', 'jobs', ['service_id', 'created_at'], unique=False)
    op.create_table('service_email_reply_to',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('service_id', sa.UUID(), nullable=False),
    sa.Column('email_address', sa.String(length=255), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_email_reply_to_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_email_reply_to'))
    )
    op.create_index(op.f('ix_service_email_reply_to_service_id'), 'service_email_reply_to', ['service_id'], unique=False)
    op.create_table('service_sms_senders',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('service_id', sa.UUID(), nullable=False),
    sa.Column('sms_sender', sa.String(length=32), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_sms_senders_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_sms_senders'))
    )
    op.create_index(op.f('ix_service_sms_senders_service_id'), 'service_sms_senders', ['service_id'], unique=False)
    op.create_table('service_team_members',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('service_id', sa.UUID(), nullable=False),
    sa.Column('recipient_type', sa.Enum('sms', 'email', name='recipient_type', native_enum=False, length=20), nullable=False),
    sa.Column('recipient', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_team_members_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_team_members')),
    sa.UniqueConstraint('service_id', 'recipient_type', 'recipient', name=op.f('uq_service_team_members_service_id'))
    )
    op.create_table('templates',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('service_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('template_type', sa.Enum('sms', 'email', name='template_type', native_enum=False, length=20), nullable=False),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('archived', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_templates_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_templates'))
    )
    op.create_index(op.f('ix_templates_service_id'), 'templates', ['service_id'], unique=False)
    op.create_table('usage_counters',
    sa.Column('service_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_usage_counters_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('service_id', 'kind', 'window_start', name=op.f('pk_usage_counters'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('service_id', sa.UUID(), nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=False),
    sa.Column('job_row_number', sa.Integer(), nullable=False),
    sa.Column('job_kind', sa.Enum('api', 'upload', name='job_kind', native_enum=False, length=20), nullable=False),
    sa.Column('template_id', sa.UUID(), nullable=False),
    sa.Column('template_version', sa.Integer(), nullable=False),
    sa.Column('notification_type', sa.Enum('sms', 'email', name='notification_type', native_enum=False, length=20), nullable=False),
    sa.Column('api_key_id', sa.UUID(), nullable=True),
    sa.Column('key_type', sa.Enum('normal', 'team', 'test', name='key_type', native_enum=False, length=20), nullable=False),
    sa.Column('client_reference', sa.String(length=1000), nullable=True),
    sa.Column('sender_id', sa.UUID(), nullable=True),
    sa.Column('international', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('billable_units', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('status', sa.String(length=20), server_default=sa.text("'created'"), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=True),
    sa.Column('provider_reference', sa.String(length=255), nullable=True),
    sa.Column('carrier', sa.String(length=255), nullable=True),
    sa.Column('provider_response', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_notifications_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('job_id', 'job_row_number', name='uq_notifications_job_row')
    )
    op.create_index('ix_notifications_provider_reference', 'notifications', ['provider_reference'], unique=False)
    op.create_index('ix_notifications_service_created', 'notifications', ['service_id', 'created_at', 'id'], unique=False)
    op.create_table('template_versions',
    sa.Column('template_id', sa.UUID(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('template_type', sa.Enum('sms', 'email', name='template_type', native_enum=False, length=20), nullable=False),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['template_id'], ['templates.id'], name=op.f('fk_template_versions_template_id_templates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('template_id', 'version', name=op.f('pk_template_versions'))
    )


def downgrade() -> None:
    op.drop_table('template_versions')
    op.drop_index('ix_notifications_service_created', table_name='notifications')
    op.drop_index('ix_notifications_provider_reference', table_name='notifications')
    op.drop_table('notifications')
    op.drop_table('usage_counters')
    op.drop_index(op.f('ix_templates_service_id'), table_name='templates')
    op.drop_table('templates')
    op.drop_table('service_team_members')
    op.drop_index(op.f('ix_service_sms_senders_service_id'), table_name='service_sms_senders')
    op.drop_table('service_sms_senders')
    op.drop_index(op.f('ix_service_email_reply_to_service_id'), table_name='service_email_reply_to')
    op.drop_table('service_email_reply_to')
    op.drop_index('ix_jobs_service_created', table_name='jobs')
    op.drop_table('jobs')
    op.drop_index(op.f('ix_api_keys_service_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('services')
