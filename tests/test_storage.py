"""The storage contract, run against every backend: SQLite and a real PostgreSQL
server (started by scripts/postgres.sh; CI always has it)."""

import multiprocessing as mp
import os
import signal
import uuid

import pytest
from sqlalchemy import create_engine, func, select, text

from transfertune.db import Storage
from transfertune.db.schema import MeasurementRow, NestRow, RecipeRow, TargetRow
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import build_program
from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.target import local_target
from transfertune.measure.measurement import Measurement
from transfertune.suites.polybench import get_kernel


def _postgres_url() -> str:
    base = os.environ.get("TT_PG_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI must provide TT_PG_URL (scripts/test.sh starts PostgreSQL)")
        pytest.skip("no PostgreSQL server (set TT_PG_URL, see scripts/postgres.sh)")
    name = f"tt_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f"create database {name}"))
    engine.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tt.db'}"
    return _postgres_url()


@pytest.fixture(scope="module")
def gemm_nest():
    return loop_nests("gemm", build_program(get_kernel("gemm")).sdfg())[0]


RECIPE = Recipe((Step("tile", (), {"size": 32}),))


def _count(storage, table):
    with storage.session() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def test_round_trip_with_provenance(url, gemm_nest):
    storage = Storage(url)
    m = Measurement("recipe", "ok", (0.3, 0.1, 0.2), "steps", 1e-15, {"compile": 0.5})
    storage.record(m, kernel=get_kernel("gemm"), target=local_target("cpu-seq"), size="MINI",
                   run="r1", nest=gemm_nest, recipe=RECIPE)
    storage.record(Measurement("baseline", "crash", message="signal 11"), kernel=get_kernel("gemm"),
                   target=local_target("cpu-seq"), size="MINI", run="r1")
    (nest_row,) = storage.measurements(whole_program=False)
    assert nest_row.measurement == m and nest_row.nest_hash == gemm_nest.nest_hash
    assert Recipe.from_json(nest_row.recipe) == RECIPE
    assert nest_row.target_key == local_target("cpu-seq").key
    (crash,) = storage.measurements(whole_program=True)
    assert crash.measurement.status == "crash" and crash.measurement.message == "signal 11"
    assert storage.measurements(status="ok", program="gemm")[0].measurement.median == 0.2
    assert storage.nests() == [("gemm", gemm_nest.nest_hash, 0, gemm_nest.canonical_json, gemm_nest.sdfg_json)]
    # The kernel transferred in an experiment is the same program: its nests are listed once.
    storage.record(m, kernel=get_kernel("gemm"), target=local_target("cpu-seq"), size="MINI",
                   run="r2", nest=gemm_nest, recipe=RECIPE, suite="experiment")
    assert len(storage.measurements(whole_program=False, program="gemm")) == 2
    assert storage.nests() == [("gemm", gemm_nest.nest_hash, 0, gemm_nest.canonical_json, gemm_nest.sdfg_json)]
    assert storage.nest_keys() == [("gemm", 0, gemm_nest.nest_hash)]


def test_a_kernel_whose_source_changed_is_listed_by_its_new_nests(url, gemm_nest):
    """floyd-warshall's source changed after it was tuned: its new nests' measurements
    must reach training and the index, not stay behind the first nests linked."""
    from dataclasses import replace

    from transfertune.commands.db import relink
    from transfertune.db.storage import kernel_source_hash

    storage = Storage(url)
    old_source = replace(get_kernel("gemm"), func=get_kernel("2mm").func)  # gemm as it was: 2mm's two nests
    old_nests = loop_nests("2mm", build_program(get_kernel("2mm")).sdfg())
    m = Measurement("recipe", "ok", (0.3, 0.1, 0.2), "steps", 1e-15, {"compile": 0.5})
    cpu = local_target("cpu-seq")
    for nest in old_nests:
        for suite in ("polybench", "experiment"):
            storage.record(m, kernel=old_source, target=cpu, size="MINI", run="r1", nest=nest, recipe=RECIPE,
                           suite=suite)
    assert [h for _, _, h in storage.nest_keys()] == [n.nest_hash for n in old_nests]
    # Measured again after the change: the experiment still links the old nest, the newer measurement wins.
    storage.record(m, kernel=get_kernel("gemm"), target=cpu, size="MINI", run="r2", nest=gemm_nest, recipe=RECIPE)
    assert storage.nest_keys()[0] == ("gemm", 0, gemm_nest.nest_hash)
    # relink parses the changed programs again: gemm has one nest now, position 1 goes.
    relink(storage)
    assert storage.nest_keys() == [("gemm", 0, gemm_nest.nest_hash)]
    assert {h for _, _, h in storage.programs()} == {kernel_source_hash(get_kernel("gemm"))}
    assert [n[1] for n in storage.nests()] == [gemm_nest.nest_hash]
    assert len(storage.measurements(whole_program=False)) == 5  # the old nests' measurements stay


def test_schema_is_versioned_and_reopening_is_idempotent(url):
    Storage(url)
    storage = Storage(url)
    with storage.session() as s:
        assert s.execute(text("select version_num from alembic_version")).scalar_one() == "0005"


def test_a_store_of_the_first_schema_is_upgraded_in_place(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from transfertune.db.storage import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with create_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    storage = Storage(url)  # opening upgrades it: the transfers table exists afterwards
    assert storage.latest_transfer(content="p", target="t", shape="s") is None
    with storage.session() as s:
        assert s.execute(text("select version_num from alembic_version")).scalar_one() == "0005"


def _writer(url, nest, worker, count):
    storage = Storage(url)
    for i in range(count):
        storage.record(Measurement("recipe", "ok", (1.0 + worker, 1.0 + i)), kernel=get_kernel("gemm"),
                       target=local_target("cpu-omp"), size="MINI", run=f"w{worker}", nest=nest, recipe=RECIPE)


def test_concurrent_writers_neither_corrupt_nor_duplicate(url, gemm_nest):
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(url, gemm_nest, w, 15)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    storage = Storage(url)
    assert _count(storage, MeasurementRow) == 60
    assert _count(storage, NestRow) == _count(storage, RecipeRow) == _count(storage, TargetRow) == 1
    assert {m.run for m in storage.measurements()} == {"w0", "w1", "w2", "w3"}


def _killed_writer(url):
    storage = Storage(url)
    for i in range(5):
        storage.record(Measurement("baseline", "ok", (1.0 + i,)), kernel=get_kernel("gemm"),
                       target=local_target("cpu-seq"), size="MINI", run="killed")
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_run_keeps_every_finished_measurement(url):
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_killed_writer, args=(url,))
    proc.start()
    proc.join(120)
    assert proc.exitcode == -signal.SIGKILL
    assert len(Storage(url).measurements(status="ok")) == 5


def _admitter(url, token, attempts, admitted):
    storage = Storage(url)
    admitted.put(sum(storage.admit_request(token, 7) is not None for _ in range(attempts)))


def test_the_rate_limit_is_shared_by_every_process(url):
    """Four processes (as four service processes) admit one token's requests at once:
    exactly its per-minute count gets through, on every backend; other tokens are not
    held back by it."""
    storage = Storage(url)
    token = storage.token(storage.create_token("busy", "cpu-omp"))
    ctx = mp.get_context("spawn")
    admitted = ctx.Queue()
    workers = [ctx.Process(target=_admitter, args=(url, token, 5, admitted)) for _ in range(4)]
    for w in workers:
        w.start()
    counts = [admitted.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    assert sum(counts) == 7 and storage.admit_request(token, 7) is None
    assert storage.admit_request(storage.token(storage.create_token("calm", "cpu-omp")), 7) is not None


def test_a_store_of_schema_0003_keeps_its_tokens_and_frees_revoked_names(url):
    """Upgraded in place on every backend (0003 named the unique token name differently
    on each): tokens survive, and a revoked name can be given again."""
    from alembic import command
    from alembic.config import Config

    from transfertune.db.storage import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.execute(text("insert into tokens (name, digest, target, created_at) "
                                "values ('alice', 'd', 'cpu-omp', current_timestamp)"))
    engine.dispose()
    storage = Storage(url)
    with pytest.raises(ValueError, match="exists"):
        storage.create_token("alice", "cpu-omp")
    storage.revoke_token("alice")
    again = storage.create_token("alice", "cpu-omp")
    assert storage.token(again).name == "alice"
    assert storage.tokens() == [("alice", "cpu-omp", False), ("alice", "cpu-omp", True)]


def test_unknown_backend_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="mysql|No module|unsupported"):
        Storage("mysql://nobody@127.0.0.1/none")


def test_portable_export_round_trip_is_idempotent(url, gemm_nest, tmp_path):
    from transfertune.db.portable import export, load

    source = Storage(f"sqlite:///{tmp_path / 'src.db'}")
    _writer(f"sqlite:///{tmp_path / 'src.db'}", gemm_nest, 0, 3)
    source.record(Measurement("baseline", "time-out", message="killed"), kernel=get_kernel("gemm"),
                  target=local_target("cpu-seq"), size="MINI", run="r9", nest=gemm_nest)
    # A GPU measurement carries its device time (kernels only, copies excluded) through the round trip.
    source.record(Measurement("baseline", "ok", (0.5, 0.4), device_samples=(0.1, 0.12)), kernel=get_kernel("gemm"),
                  target=local_target("cpu-seq"), size="MINI", run="r10")
    counts = export(source, tmp_path / "export", {"machine": "test"})
    assert counts["measurements"] == 5 and (tmp_path / "export" / "manifest.json").exists()
    target = Storage(url)
    assert load(target, tmp_path / "export") == 5
    assert load(target, tmp_path / "export") == 0
    assert [m.measurement for m in target.measurements()] == [m.measurement for m in source.measurements()]
    assert target.measurements()[-1].measurement.device_median == pytest.approx(0.11)
    assert target.nests() == source.nests()
    with pytest.raises(ValueError, match="not an export"):
        load(target, tmp_path)


def test_the_index_embeds_a_measured_nest_that_no_program_lists(tmp_path, gemm_nest):
    """A nest whose program now links another nest at its position (the code changed) is
    still measured: the recipe index embeds it beside the linked one (floyd-warshall's new
    nest once stopped the AMD leave-one-out with a KeyError, when it was the unlinked one)."""
    import numpy as np

    from transfertune.index.build import build_index

    class Lengths:
        """Embeds a nest as its JSON's length: enough to build an index."""

        dim, checkpoint_hash = 1, "lengths"

        def embed(self, texts: list[str]) -> np.ndarray:
            return np.array([[float(len(t))] for t in texts], dtype=np.float32)

    storage = Storage(f"sqlite:///{tmp_path / 'tt.db'}")
    changed = loop_nests("gemm", build_program(get_kernel("2mm")).sdfg())[0]  # the "new code" at position 0
    for nest, run in ((gemm_nest, "before"), (changed, "after")):
        for m, recipe in ((Measurement("baseline", "ok", (2.0,)), None), (Measurement("recipe", "ok", (1.0,)), RECIPE)):
            storage.record(m, kernel=get_kernel("gemm"), target=local_target("cpu-seq"), size="MINI", run=run,
                           nest=nest, recipe=recipe, suite="experiment")
    assert [h for _, h, _, _, _ in storage.nests()] == [changed.nest_hash]  # the nest measured last
    assert storage.canonical_nests()[gemm_nest.nest_hash] == gemm_nest.canonical_json
    _, indexed = build_index(storage, Lengths(), "cpu-seq", "MINI")
    assert {n.nest_hash for n in indexed} == {gemm_nest.nest_hash, changed.nest_hash}
