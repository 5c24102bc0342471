"""The recipe service, second form: a revoked token's name may be given again, every
admitted request is stored with its status, reason and size, and the per-token rate
limit is counted in the store (so every service process shares it).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("revoked_at IS NULL")


def _unique_name() -> str:
    """0003 declared the token name unique inline: PostgreSQL named that constraint itself,
    SQLite left it unnamed (the naming convention names it while batch mode copies the table)."""
    return "tokens_name_key" if op.get_bind().dialect.name == "postgresql" else "uq_tokens_name"


def upgrade() -> None:
    with op.batch_alter_table("tokens", naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}) as batch:
        batch.drop_constraint(_unique_name(), type_="unique")
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("uq_token_active_name", "tokens", ["name"], unique=True, sqlite_where=_ACTIVE,
                    postgresql_where=_ACTIVE)
    with op.batch_alter_table("service_requests") as batch:
        batch.add_column(sa.Column("message", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("size", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_service_request_token_time", "service_requests", ["token_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_service_request_token_time", "service_requests")
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_column("size")
        batch.drop_column("message")
    op.drop_index("uq_token_active_name", "tokens")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("last_used_at")
        batch.create_unique_constraint(_unique_name(), ["name"])
