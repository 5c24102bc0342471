"""The recipe service: client tokens (hashed) and the requests it answered.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("target", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_id", sa.Integer, sa.ForeignKey("tokens.id"), nullable=False),
        sa.Column("target", sa.String(80), nullable=False),
        sa.Column("answered_by", sa.String(80), nullable=True),
        sa.Column("sdfg_hash", sa.String(64), nullable=False),
        sa.Column("sdfg_json", sa.Text, nullable=False),
        sa.Column("nests", sa.JSON, nullable=False),
        sa.Column("lent", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_service_request_time", "service_requests", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_service_request_time", "service_requests")
    op.drop_table("service_requests")
    op.drop_table("tokens")
