"""Initial schema: programs, loop nests, targets, recipes, measurements.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "programs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("suite", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("suite", "name", name="uq_program_suite_name"),
    )
    op.create_table(
        "loop_nests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("canonical_json", sa.Text, nullable=False),
        sa.Column("sdfg_json", sa.Text, nullable=False),
    )
    op.create_table(
        "program_nests",
        sa.Column("program_id", sa.Integer, sa.ForeignKey("programs.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("nest_id", sa.Integer, sa.ForeignKey("loop_nests.id"), nullable=False),
    )
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(80), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
    )
    op.create_table(
        "recipes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("canonical_json", sa.Text, nullable=False),
    )
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("program_id", sa.Integer, sa.ForeignKey("programs.id"), nullable=False),
        sa.Column("nest_id", sa.Integer, sa.ForeignKey("loop_nests.id"), nullable=True),
        sa.Column("recipe_id", sa.Integer, sa.ForeignKey("recipes.id"), nullable=True),
        sa.Column("variant", sa.String(32), nullable=False),
        sa.Column("target_id", sa.Integer, sa.ForeignKey("targets.id"), nullable=False),
        sa.Column("size", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("median", sa.Float, nullable=True),
        sa.Column("spread", sa.Float, nullable=True),
        sa.Column("samples", sa.JSON, nullable=False),
        sa.Column("max_error", sa.Float, nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("phases", sa.JSON, nullable=False),
        sa.Column("run", sa.String(64), nullable=False),
        sa.Column("transfertune_version", sa.String(32), nullable=False),
        sa.Column("docc_version", sa.String(32), nullable=False),
        sa.Column("host", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_measurement_lookup", "measurements", ["target_id", "size", "nest_id", "recipe_id"])
    op.create_index("ix_measurement_program", "measurements", ["program_id", "target_id", "size"])


def downgrade() -> None:
    for table in ("measurements", "recipes", "targets", "program_nests", "loop_nests", "programs"):
        op.drop_table(table)
