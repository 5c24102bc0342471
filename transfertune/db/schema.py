"""Tables of the measurement store (SQLAlchemy 2.x declarative models).

One schema for SQLite and PostgreSQL. Content-addressed things (loop nests, recipes,
targets) are unique by their hash or key, so concurrent writers converge on one row;
measurements are events and only ever appended.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ProgramRow(Base):
    """A benchmark program (kernel) of a suite."""

    __tablename__ = "programs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suite: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    source_hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("suite", "name", name="uq_program_suite_name"),)


class NestRow(Base):
    """A loop nest by content hash; `sdfg_json` is docc's JSON of the cutout."""

    __tablename__ = "loop_nests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    canonical_json: Mapped[str] = mapped_column(Text)
    sdfg_json: Mapped[str] = mapped_column(Text)


class ProgramNestRow(Base):
    """Which nests a program consists of, at which position (a nest may recur)."""

    __tablename__ = "program_nests"
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    nest_id: Mapped[int] = mapped_column(ForeignKey("loop_nests.id"))


class TargetRow(Base):
    """Hardware fingerprint + codegen options; `key` is `Target.key`."""

    __tablename__ = "targets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict] = mapped_column(JSON)


class RecipeRow(Base):
    """A nest recipe or a program recipe, by hash of its canonical JSON."""

    __tablename__ = "recipes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    canonical_json: Mapped[str] = mapped_column(Text)


class MeasurementRow(Base):
    """One measured variant: of a nest (nest_id set) or of a whole program."""

    __tablename__ = "measurements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    nest_id: Mapped[int | None] = mapped_column(ForeignKey("loop_nests.id"), nullable=True)
    recipe_id: Mapped[int | None] = mapped_column(ForeignKey("recipes.id"), nullable=True)
    variant: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"))
    size: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    median: Mapped[float | None] = mapped_column(Float, nullable=True)
    spread: Mapped[float | None] = mapped_column(Float, nullable=True)
    samples: Mapped[list] = mapped_column(JSON)
    max_error: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    phases: Mapped[dict] = mapped_column(JSON)
    device_samples: Mapped[list | None] = mapped_column(JSON, nullable=True)
    """GPU targets: seconds in kernels on the device per sample (copies excluded)."""
    run: Mapped[str] = mapped_column(String(64))
    transfertune_version: Mapped[str] = mapped_column(String(32))
    docc_version: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_measurement_lookup", "target_id", "size", "nest_id", "recipe_id"),
        Index("ix_measurement_program", "program_id", "target_id", "size"),
    )


class TransferRow(Base):
    """What `transfer()` answered for a program (by content), shape class and target:
    the kept program recipe and the report, so a repeated call returns both unmeasured."""

    __tablename__ = "transfers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"))
    shape: Mapped[str] = mapped_column(String(64))
    recipe_id: Mapped[int] = mapped_column(ForeignKey("recipes.id"))
    report: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_transfer_lookup", "program_id", "target_id", "shape"),)


class TokenRow(Base):
    """A client of the recipe service: its token is stored only as a SHA-256 digest, with
    the target (key or name) its machine is registered for. A name is unique among active
    tokens only, so a revoked client's name can be given to a new token."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    target: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __table_args__ = (Index("uq_token_active_name", "name", unique=True, sqlite_where=text("revoked_at IS NULL"),
                            postgresql_where=text("revoked_at IS NULL")),)


class ServiceRequestRow(Base):
    """A request a client's token was admitted for: stored when admitted ("pending"), then
    finished with its status (lent, empty, malformed, too_large, timeout), the SDFG (a
    malformed body only when small), its size, its nests (canonical hashes), what the
    service lent and why it refused. The rows of the last minute are the rate limit's count."""

    __tablename__ = "service_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"))
    target: Mapped[str] = mapped_column(String(80))
    answered_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    sdfg_hash: Mapped[str] = mapped_column(String(64))
    sdfg_json: Mapped[str] = mapped_column(Text)
    nests: Mapped[list] = mapped_column(JSON)
    lent: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_service_request_time", "created_at"),
                      Index("ix_service_request_token_time", "token_id", "created_at"))
