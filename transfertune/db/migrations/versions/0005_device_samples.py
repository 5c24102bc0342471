"""Device time: a GPU measurement's seconds in kernels on the device, per sample
(CUDA events; host<->device copies excluded), beside its wall-clock samples.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("measurements") as batch:
        batch.add_column(sa.Column("device_samples", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("measurements") as batch:
        batch.drop_column("device_samples")
