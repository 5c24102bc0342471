"""The measurement store behind one SQLAlchemy URL: SQLite (default) or PostgreSQL.

Guarantees, for every backend:
- the schema is created or upgraded (alembic, migrations in this package) on open;
- every `record` call commits before it returns: a killed run loses only the variant
  in flight;
- content-addressed rows (nests, recipes, targets, programs) are inserted with
  "on conflict do nothing" and re-read, so concurrent writers, on one machine or many,
  converge on one row each and never fail on each other's inserts;
- reads never see partial writes (one transaction per call).
Dialect differences are confined to `_insert` and `_on_connect`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from transfertune.db.schema import (
    MeasurementRow,
    NestRow,
    ProgramNestRow,
    ProgramRow,
    RecipeRow,
    ServiceRequestRow,
    TargetRow,
    TokenRow,
    TransferRow,
)
from transfertune.ir.kernel import Kernel
from transfertune.ir.loopnest import LoopNest
from transfertune.ir.recipe import ProgramRecipe, Recipe
from transfertune.ir.target import Target
from transfertune.measure.measurement import Measurement
from transfertune.paths import ROOT, SEED

MIGRATIONS = Path(__file__).parent / "migrations"


ENV_URL = "TRANSFERTUNE_DB"
"""Environment variable naming the store's URL (config ``db=`` wins over it)."""


def default_url() -> str:
    """``$TRANSFERTUNE_DB``, else SQLite in the user's data directory ($XDG_DATA_HOME or
    ~/.local/share), so the CLI, the API and every session share one lasting store."""
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    root = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    path = root / "transfertune" / "transfertune.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def open_store(url: str | None = None, seed: str | Path | None = SEED) -> Storage:
    """The store at `url` (default: `default_url`). A store that holds no measurement yet
    is seeded from `seed` (the shipped measurements), once, so a first query or transfer
    on a fresh install has something to answer from."""
    storage = Storage(url)
    if seed is not None and Path(seed).is_dir() and storage.is_empty():
        from transfertune.db.portable import load

        load(storage, seed)
    return storage


def seed_store(source: str | Path = SEED) -> Storage:
    """The shipped measurements alone, imported once into a cached SQLite file keyed by
    their content: what training, evaluation and experiments read unless told a `db`,
    so their results do not depend on what a user's own store has gathered."""
    source = Path(source)
    if not source.is_absolute():
        source = ROOT / source
    files = sorted(source.glob("*.jsonl"))
    if not files:
        raise ValueError(f"no seed database (*.jsonl) in {source}")
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "transfertune"
    root.mkdir(parents=True, exist_ok=True)
    return open_store(f"sqlite:///{root / f'seed-{digest}.db'}", seed=source)


@dataclass(frozen=True)
class StoredMeasurement:
    """A measurement read back, with what it measured."""

    program: str
    nest_hash: str | None
    recipe: dict[str, Any] | None
    variant: str
    target_key: str
    size: str
    measurement: Measurement
    run: str


@dataclass(frozen=True)
class ProgramRun:
    """One whole-program run: its variants, timed together in one child, and the recipe
    of the variant asked for."""

    run: str
    target_key: str
    measurements: dict[str, Measurement]
    recipe: ProgramRecipe


@dataclass(frozen=True)
class Token:
    """An active client of the recipe service."""

    id: int
    name: str
    target: str


@dataclass(frozen=True)
class RequestRecord:
    """What the store keeps of one admitted service request, whatever became of it."""

    status: str
    """lent, empty (nothing to lend), malformed (400), too_large (413), timeout (504) or
    error (the handler failed, or the client went away before the answer)."""
    target: str = ""
    """The target name that answered (empty when the request never got that far)."""
    answered_by: str | None = None
    sdfg_json: str = ""
    """The SDFG sent; for a malformed body, the body itself only when it is small."""
    size: int = 0
    """Bytes of the body (as declared, for one refused unread)."""
    nests: tuple[str, ...] = ()
    lent: tuple[dict[str, Any], ...] = ()
    message: str = ""
    """Why the request was refused."""


@dataclass(frozen=True)
class Transfer:
    """An earlier `transfer()` answer: the kept recipe and the report it came with."""

    recipe: ProgramRecipe
    report: dict[str, Any]
    created_at: datetime


class Storage:
    """Open (creating or upgrading) the store at `url`."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        try:
            self.engine: Engine = create_engine(self.url, future=True)
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as err:
            raise ValueError(f"db={self.url!r} is not a database URL (sqlite:///FILE or "
                             f"postgresql+psycopg://USER:PW@HOST/DB): {str(err).splitlines()[0]}") from None
        _insert(self.engine, MeasurementRow)  # refuses dialects we have no upsert for
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _on_connect)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            self._migrate()
        except DBAPIError as err:
            raise ValueError(f"cannot open the database {self.engine.url.render_as_string(hide_password=True)}: "
                             f"{str(err.orig).strip().splitlines()[0] if err.orig else err}") from None

    @property
    def identity(self) -> str:
        """Which store this is (its URL without password), for caches built from it."""
        return self.engine.url.render_as_string(hide_password=True)

    def state(self) -> str:
        """Changes whenever a measurement is added: count and last id (caches key on it)."""
        with self.session() as s:
            count, last = s.execute(select(func.count(MeasurementRow.id), func.max(MeasurementRow.id))).one()
        return f"{count}-{last}"

    def is_empty(self) -> bool:
        with self.session() as s:
            return s.execute(select(MeasurementRow.id).limit(1)).first() is None

    def _migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        for attempt in range(5):
            try:
                with self.engine.begin() as connection:
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                return
            except DBAPIError:
                # Another process is creating the same schema right now: wait, re-check.
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    # -- content-addressed rows -------------------------------------------------------

    def _ensure(self, session: Session, table: Any, keys: dict[str, Any], values: dict[str, Any]) -> int:
        stmt = _insert(self.engine, table).values(**keys, **values).on_conflict_do_nothing()
        session.execute(stmt)
        query = select(table.id)
        for name, value in keys.items():
            query = query.where(getattr(table, name) == value)
        return session.execute(query).scalar_one()

    def program_id(self, session: Session, kernel: Kernel, suite: str = "polybench") -> int:
        """The program's row. A kernel whose source changed since it was stored may parse
        to other nests: its links to the old ones go (their measurements stay, under the
        old nests' hashes), and each nest measured from now on is linked again."""
        return self.program_row(session, suite, kernel.name, kernel_source_hash(kernel))

    def program_row(self, session: Session, suite: str, name: str, source_hash: str) -> int:
        """`program_id` by the source's hash (an import knows no kernel)."""
        session.execute(_insert(self.engine, ProgramRow).values(suite=suite, name=name, source_hash=source_hash)
                        .on_conflict_do_nothing())
        pid, stored = session.execute(select(ProgramRow.id, ProgramRow.source_hash)
                                      .where(ProgramRow.suite == suite, ProgramRow.name == name)).one()
        if stored != source_hash:
            session.execute(update(ProgramRow).where(ProgramRow.id == pid).values(source_hash=source_hash))
            session.execute(delete(ProgramNestRow).where(ProgramNestRow.program_id == pid))
        return pid

    def nest_id(self, session: Session, nest: LoopNest, program_id: int | None = None) -> int:
        """The nest's row; with `program_id`, the nest becomes the program's nest at its
        position (replacing the one linked before: the same source can parse to another
        nest after docc or the canonical form changed), so training and the index read the
        measurements of the code as it is."""
        nid = self._ensure(session, NestRow, {"hash": nest.nest_hash},
                           {"canonical_json": nest.canonical_json, "sdfg_json": nest.sdfg_json})
        if program_id is not None:
            session.execute(_insert(self.engine, ProgramNestRow)
                            .values(program_id=program_id, position=nest.index, nest_id=nid)
                            .on_conflict_do_update(index_elements=["program_id", "position"], set_={"nest_id": nid}))
        return nid

    def programs(self) -> list[tuple[str, str, str]]:
        """(suite, name, source hash) of every stored program."""
        with self.session() as s:
            return [tuple(r) for r in s.execute(select(ProgramRow.suite, ProgramRow.name, ProgramRow.source_hash)
                                                .order_by(ProgramRow.suite, ProgramRow.name))]

    def link_program(self, kernel: Kernel, nests: list[LoopNest], suite: str) -> None:
        """Make `nests` (what the kernel's source parses to now) the program's nests and
        its source the one stored: what `tune` links as it measures them."""
        with self.session() as s:
            pid = self.program_id(s, kernel, suite)
            for nest in nests:
                self.nest_id(s, nest, pid)

    def target_id(self, session: Session, target: Target) -> int:
        return self._ensure(session, TargetRow, {"key": target.key},
                            {"name": target.name, "spec": target.to_json()})

    def recipe_id(self, session: Session, recipe: Recipe | ProgramRecipe) -> int:
        kind = "nest" if isinstance(recipe, Recipe) else "program"
        text = recipe.canonical()
        return self._ensure(session, RecipeRow, {"hash": hashlib.sha256(text.encode()).hexdigest()},
                            {"kind": kind, "canonical_json": text})

    # -- measurements -----------------------------------------------------------------

    def record(self, m: Measurement, *, kernel: Kernel, target: Target, size: str, run: str,
               nest: LoopNest | None = None, recipe: Recipe | ProgramRecipe | None = None,
               suite: str = "polybench") -> int:
        """Append one measurement and commit it before returning."""
        with self.session() as s:
            pid = self.program_id(s, kernel, suite)
            row = MeasurementRow(
                program_id=pid,
                nest_id=self.nest_id(s, nest, pid) if nest is not None else None,
                recipe_id=self.recipe_id(s, recipe) if recipe is not None else None,
                variant=m.variant, target_id=self.target_id(s, target), size=size, status=m.status,
                median=m.median if m.samples else None, spread=m.spread if m.samples else None,
                samples=list(m.samples), max_error=_finite(m.max_error), message=m.message[:4000],
                phases=m.phases, device_samples=list(m.device_samples) or None, run=run,
                transfertune_version=_version("transfertune"),
                docc_version=_version("docc-compiler"), host=platform.node(),
                created_at=datetime.now(UTC))
            s.add(row)
            s.flush()
            return row.id

    def measurements(self, *, target: Target | str | None = None, size: str | None = None,
                     program: str | None = None, nest_hash: str | None = None,
                     whole_program: bool | None = None, status: str | None = None,
                     target_name: str | None = None) -> list[StoredMeasurement]:
        """Measurements matching every given filter, oldest first."""
        query = (select(MeasurementRow, ProgramRow.name, NestRow.hash, RecipeRow.canonical_json, TargetRow.key)
                 .join(ProgramRow, MeasurementRow.program_id == ProgramRow.id)
                 .join(TargetRow, MeasurementRow.target_id == TargetRow.id)
                 .outerjoin(NestRow, MeasurementRow.nest_id == NestRow.id)
                 .outerjoin(RecipeRow, MeasurementRow.recipe_id == RecipeRow.id)
                 .order_by(MeasurementRow.id))
        if target is not None:
            query = query.where(TargetRow.key == (target if isinstance(target, str) else target.key))
        if target_name is not None:
            query = query.where(TargetRow.name == target_name)
        if size is not None:
            query = query.where(MeasurementRow.size == size)
        if program is not None:
            query = query.where(ProgramRow.name == program)
        if nest_hash is not None:
            query = query.where(NestRow.hash == nest_hash)
        if whole_program is not None:
            query = query.where(MeasurementRow.nest_id.is_(None) if whole_program
                                else MeasurementRow.nest_id.is_not(None))
        if status is not None:
            query = query.where(MeasurementRow.status == status)
        with self.session() as s:
            rows = s.execute(query).all()
        return [StoredMeasurement(
            program=name, nest_hash=nhash, recipe=json.loads(rjson) if rjson else None,
            variant=row.variant, target_key=tkey, size=row.size,
            measurement=Measurement(row.variant, row.status, tuple(row.samples), row.message,
                                    row.max_error, dict(row.phases), tuple(row.device_samples or ())),
            run=row.run) for row, name, nhash, rjson, tkey in rows]

    def nest_speedups(self, *, size: str, target: Target | str | None = None, target_name: str | None = None,
                      program: str | None = None, nest_hash: str | None = None
                      ) -> dict[tuple[str, str], dict[Recipe, float]]:
        """(program, nest hash) -> recipe -> best speedup of that recipe over the untouched
        program timed in the same run; 0.0 for a recipe that only ever failed (wrong,
        crash, ...), so callers can tell 'tried' from 'unknown'."""
        rows = self.measurements(target=target, target_name=target_name, size=size, program=program,
                                 nest_hash=nest_hash, whole_program=False)
        baselines = {r.run: r.measurement for r in rows if r.variant == "baseline"}
        out: dict[tuple[str, str], dict[Recipe, float]] = {}
        parsed: dict[str, Recipe] = {}
        for r in rows:
            base = baselines.get(r.run)
            if r.recipe is None or base is None:
                continue
            text = json.dumps(r.recipe, sort_keys=True)
            key = parsed.setdefault(text, Recipe.from_json(r.recipe))
            ok = base.ok and r.measurement.ok and r.measurement.median > 0
            table = out.setdefault((r.program, r.nest_hash), {})
            table[key] = max(table.get(key, 0.0), base.median / r.measurement.median if ok else 0.0)
        return out

    def latest_runs(self, *, size: str, variant: str, target: Target | str | None = None,
                    target_name: str | None = None, program: str | None = None) -> dict[str, ProgramRun]:
        """Program -> its newest whole-program run that has `variant` (``tuned``,
        ``transferred``): every variant of that run, timed together, and its recipe."""
        rows = self.measurements(target=target, target_name=target_name, size=size, program=program,
                                 whole_program=True)
        latest = {r.program: r.run for r in rows if r.variant == variant}
        runs: dict[str, dict[str, StoredMeasurement]] = {}
        for r in rows:
            if latest.get(r.program) == r.run:
                runs.setdefault(r.program, {})[r.variant] = r
        return {p: ProgramRun(latest[p], mine[variant].target_key, {v: m.measurement for v, m in mine.items()},
                              ProgramRecipe.from_json(mine[variant].recipe) if mine[variant].recipe
                              else ProgramRecipe({}))
                for p, mine in runs.items()}

    # -- transfers ---------------------------------------------------------------------

    def record_transfer(self, *, kernel: Kernel, target: Target, shape: str, recipe: ProgramRecipe,
                        report: dict[str, Any], suite: str = "user") -> None:
        """Store what `transfer()` answered (only ever for a verified, measured program)."""
        with self.session() as s:
            s.add(TransferRow(program_id=self.program_id(s, kernel, suite), target_id=self.target_id(s, target),
                              shape=shape, recipe_id=self.recipe_id(s, recipe), report=report,
                              created_at=datetime.now(UTC)))

    def latest_transfer(self, *, content: str, target: str, shape: str) -> Transfer | None:
        """The newest answer for a program with this content id (user programs are named
        ``function@content``: a renamed copy of the same code matches, an edited function
        with the old name does not), target key and shape class."""
        query = (select(TransferRow, RecipeRow.canonical_json)
                 .join(ProgramRow, TransferRow.program_id == ProgramRow.id)
                 .join(TargetRow, TransferRow.target_id == TargetRow.id)
                 .join(RecipeRow, TransferRow.recipe_id == RecipeRow.id)
                 .where(ProgramRow.name.endswith(f"@{content}"), TargetRow.key == target, TransferRow.shape == shape)
                 .order_by(TransferRow.id.desc()).limit(1))
        with self.session() as s:
            found = s.execute(query).first()
        if found is None:
            return None
        row, recipe = found
        return Transfer(ProgramRecipe.from_json(json.loads(recipe)), dict(row.report), row.created_at)

    # -- the recipe service -------------------------------------------------------------

    def create_token(self, name: str, target: str) -> str:
        """A new client token for `target` (a target key or name); only its digest is
        stored, the token itself is returned once. A revoked token's name may be reused."""
        secret = "tt_" + secrets.token_urlsafe(32)
        with self.session() as s:
            if s.execute(select(TokenRow.id).where(TokenRow.name == name, TokenRow.revoked_at.is_(None))).first():
                raise ValueError(f"a token named {name!r} exists; revoke it first (transfertune token action=revoke)")
            s.add(TokenRow(name=name, digest=_digest(secret), target=target, created_at=datetime.now(UTC)))
        return secret

    def revoke_token(self, name: str) -> None:
        with self.session() as s:
            row = s.execute(select(TokenRow).where(TokenRow.name == name, TokenRow.revoked_at.is_(None))).scalar()
            if row is None:
                raise ValueError(f"no active token named {name!r}")
            row.revoked_at = datetime.now(UTC)

    def token(self, secret: str) -> Token | None:
        """The active token with this secret (compared by digest), or None."""
        with self.session() as s:
            row = s.execute(select(TokenRow).where(TokenRow.digest == _digest(secret),
                                                   TokenRow.revoked_at.is_(None))).scalar()
            return Token(row.id, row.name, row.target) if row is not None else None

    def tokens(self) -> list[tuple[str, str, bool]]:
        """(name, target, active) of every token."""
        with self.session() as s:
            return [(t.name, t.target, t.revoked_at is None) for t in s.scalars(select(TokenRow).order_by(TokenRow.id))]

    def admit_request(self, token: Token, per_minute: int) -> int | None:
        """Store a new request of `token` as "pending" and return its id, or None (nothing
        stored) when the token already had `per_minute` requests admitted in the last
        minute. The count is the store's, so every service process sharing the store
        shares the limit; writing the token row first serialises one token's admissions
        (a row lock on PostgreSQL, the write lock on SQLite)."""
        now = datetime.now(UTC)
        with self.session() as s:
            s.execute(update(TokenRow).where(TokenRow.id == token.id).values(last_used_at=now))
            recent = s.execute(select(func.count(ServiceRequestRow.id)).where(
                ServiceRequestRow.token_id == token.id,
                ServiceRequestRow.created_at > now - timedelta(minutes=1))).scalar_one()
            if recent >= per_minute:
                return None
            row = ServiceRequestRow(token_id=token.id, target="", answered_by=None, sdfg_hash="", sdfg_json="",
                                    nests=[], lent=[], status="pending", seconds=0.0, message="", size=0,
                                    created_at=now)
            s.add(row)
            s.flush()
            return row.id

    def finish_request(self, request: int, record: RequestRecord, seconds: float) -> None:
        """What became of admitted request `request` (committed before the reply leaves)."""
        digest = hashlib.sha256(record.sdfg_json.encode()).hexdigest() if record.sdfg_json else ""
        with self.session() as s:
            s.execute(update(ServiceRequestRow).where(ServiceRequestRow.id == request).values(
                status=record.status, target=record.target, answered_by=record.answered_by, sdfg_hash=digest,
                sdfg_json=record.sdfg_json, size=record.size, nests=list(record.nests), lent=list(record.lent),
                message=record.message, seconds=seconds))

    def requests(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Service requests, newest first: when, client, target, status, nests, what was
        lent, why it was refused."""
        query = (select(ServiceRequestRow, TokenRow.name).join(TokenRow, ServiceRequestRow.token_id == TokenRow.id)
                 .order_by(ServiceRequestRow.id.desc()))
        if limit is not None:
            query = query.limit(limit)
        with self.session() as s:
            return [{"at": r.created_at.isoformat(timespec="seconds"), "client": name, "target": r.target,
                     "answered_by": r.answered_by, "nests": list(r.nests), "lent": list(r.lent), "status": r.status,
                     "seconds": r.seconds, "sdfg_hash": r.sdfg_hash, "size": r.size, "message": r.message}
                    for r, name in s.execute(query).all()]

    def requested_programs(self, *, target: str) -> list[tuple[str, str, list[str]]]:
        """(SDFG hash, SDFG JSON, nest hashes) of every distinct program clients sent for
        `target` (a name) and were answered for, newest first: what the tuning farm works
        from (a refused or timed-out request has no nests to tune)."""
        query = (select(ServiceRequestRow.sdfg_hash, ServiceRequestRow.sdfg_json, ServiceRequestRow.nests)
                 .where(ServiceRequestRow.target == target, ServiceRequestRow.status.in_(("lent", "empty")))
                 .order_by(ServiceRequestRow.id.desc()))
        seen: dict[str, tuple[str, str, list[str]]] = {}
        with self.session() as s:
            for sdfg_hash, sdfg_json, nests in s.execute(query).all():
                seen.setdefault(sdfg_hash, (sdfg_hash, sdfg_json, list(nests)))
        return list(seen.values())

    def targets(self, *, with_recipes: bool = False) -> list[tuple[str, str, dict[str, Any]]]:
        """(key, name, spec) of every stored target; `with_recipes`: only those with a
        successfully measured nest recipe (the ones that can answer a query)."""
        query = select(TargetRow).order_by(TargetRow.id)
        if with_recipes:
            query = query.where(TargetRow.id.in_(
                select(MeasurementRow.target_id).where(MeasurementRow.nest_id.is_not(None),
                                                       MeasurementRow.recipe_id.is_not(None),
                                                       MeasurementRow.status == "ok")))
        with self.session() as s:
            return [(t.key, t.name, t.spec) for t in s.scalars(query)]

    def nest_ids(self) -> dict[str, int]:
        """Nest hash -> database id (the ids the recipe index stores)."""
        with self.session() as s:
            return {h: i for i, h in s.execute(select(NestRow.id, NestRow.hash)).all()}

    def canonical_nests(self) -> dict[str, str]:
        """Nest hash -> canonical JSON of every stored nest, also those no program lists:
        a transfer's measurements (suite ``experiment``, ``user``) name a nest without
        linking it to a program, and the recipe index embeds every measured nest."""
        with self.session() as s:
            return {h: c for h, c in s.execute(select(NestRow.hash, NestRow.canonical_json)).all()}

    def nest_keys(self) -> list[tuple[str, int, str]]:
        """(program, position, nest hash) of every nest `nests` lists, without their JSON
        (a cache key): one nest per program name and position.

        A kernel stored under two suites (tuned as ``polybench``, transferred in an
        ``experiment``) is one program, as `nest_speedups` has it, and must not enter
        training or an index twice. Where its suites link different nests to a position
        (its source changed between their runs), the nest measured last is the code as it
        is now."""
        last = (select(MeasurementRow.nest_id, func.max(MeasurementRow.created_at).label("at"))
                .group_by(MeasurementRow.nest_id).subquery())
        query = (select(ProgramRow.name, ProgramNestRow.position, NestRow.hash, last.c.at)
                 .join(ProgramNestRow, ProgramNestRow.program_id == ProgramRow.id)
                 .join(NestRow, NestRow.id == ProgramNestRow.nest_id)
                 .outerjoin(last, last.c.nest_id == NestRow.id))
        newest: dict[tuple[str, int], tuple[str, str]] = {}
        with self.session() as s:
            for name, position, nest_hash, at in s.execute(query):
                candidate = (at.isoformat() if at is not None else "", nest_hash)  # ties: by hash, not by row order
                newest[(name, position)] = max(newest.get((name, position), candidate), candidate)
        return [(name, position, nest_hash) for (name, position), (_, nest_hash) in sorted(newest.items())]

    def nests(self) -> list[tuple[str, str, int, str, str]]:
        """(program, nest hash, position, canonical JSON, docc JSON) of every nest
        `nest_keys` lists, in its order."""
        keys = self.nest_keys()
        with self.session() as s:
            rows = s.execute(select(NestRow.hash, NestRow.canonical_json, NestRow.sdfg_json)
                             .where(NestRow.hash.in_({h for _, _, h in keys}))).all()
        json_of = {h: (canonical, sdfg) for h, canonical, sdfg in rows}
        return [(name, h, position, *json_of[h]) for name, position, h in keys]


def kernel_source_hash(kernel: Kernel) -> str:
    """What a program's source is known by: a changed hash means its nests may have changed."""
    return hashlib.sha256(inspect.getsource(kernel.func).encode()).hexdigest()


def _insert(engine: Engine, table: Any) -> Any:
    dialect = engine.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise ValueError(f"unsupported database {dialect!r}: use sqlite:/// or postgresql+psycopg://")


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: WAL so readers never block the writer, wait for locks instead of failing,
    enforce foreign keys."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _finite(value: float | None) -> float | None:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return value


def _digest(secret: str) -> str:
    """Tokens are random (256 bits), so a plain SHA-256 is a safe digest to store."""
    return hashlib.sha256(secret.encode()).hexdigest()
