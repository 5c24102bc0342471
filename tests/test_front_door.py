"""What a new user meets: the package API, the decorator, the default store, the CLI's
help and errors, and programs that are right at every shape or refuse the call."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import transfertune
from tests import user_kernels
from transfertune.cli import COMMANDS, main
from transfertune.db import Storage, open_store
from transfertune.index.embedder import Embedder
from transfertune.index.lookup import RecipeLookup
from transfertune.measure.variants import Settings
from transfertune.paths import SEED
from transfertune.porting.user import ArgumentError, Signature, bind_arguments

FAST = Settings(repetitions=2, early_stop=1.5)


def test_square_transfer_is_right_at_other_shapes_and_refuses_bad_calls(store, checkpoint, tmp_path):
    # equal extents at transfer (docc would merge them into one symbol); generic: one
    # build right at every shape ...
    rng = np.random.default_rng(1)
    C, A, B = rng.random((40, 40)), rng.random((40, 40)), rng.random((40, 40))
    lookup = RecipeLookup(Storage(store), Embedder.from_checkpoint(checkpoint), cache=tmp_path)
    result = transfertune.transfer(user_kernels.matmul_sub, C, A, B, target="cpu-omp", settings=FAST, lookup=lookup,
                                   size="LARGE", generic=True)
    assert "float64/2" in result.report["shape_class"] and result.report["nests"][0]["tried"]
    assert "==" not in result.report["shape_class"]
    # ... and the program is right at distinct, odd extents
    C2, A2, B2 = rng.random((21, 33)), rng.random((21, 17)), rng.random((17, 33))
    want = C2 - A2 @ B2
    result.run(C2, A2, B2)
    np.testing.assert_allclose(C2, want, rtol=1e-12)
    # a call the function itself would reject (B too short) is refused before native code runs
    with pytest.raises(ArgumentError, match="argument B: the program"):
        result.run(np.zeros((21, 33)), A2, rng.random((16, 33)))
    with pytest.raises(ArgumentError, match="built for"):  # int64 arrays are not read as float64 bits
        result.run(np.zeros((21, 33), dtype=np.int64), A2, B2)
    with pytest.raises(ArgumentError, match="built for"):
        result.run(np.zeros(21), A2, B2)
    with pytest.raises(ArgumentError, match="empty"):
        result.run(np.zeros((0, 33)), np.zeros((0, 17)), B2)


def test_sizes_equal_at_the_call_are_one_size_of_the_shape_class(store, checkpoint, tmp_path):
    """By default sizes equal at the transfer are parsed as one (what lets docc prove a
    library call legal): the build is right at every shape that keeps them equal, refuses
    the others with a clear error, and the decorator transfers again for those."""
    rng = np.random.default_rng(3)
    lookup = RecipeLookup(Storage(store), Embedder.from_checkpoint(checkpoint), cache=tmp_path)
    C, A, B = np.zeros((40, 40)), rng.random((40, 40)), rng.random((40, 40))
    result = transfertune.transfer(user_kernels.matmul_acc, C, A, B, target="cpu-seq", settings=FAST, lookup=lookup,
                                   size="LARGE")
    signature = result.run.guard.signature
    assert signature.equal == (("C.shape[0]", "C.shape[1]", "A.shape[0]", "A.shape[1]", "B.shape[0]", "B.shape[1]"),)
    assert "C.shape[0] == C.shape[1]" in result.report["shape_class"]
    C2, A2, B2 = rng.random((23, 23)), rng.random((23, 23)), rng.random((23, 23))
    want = C2 + A2 @ B2
    result.run(C2, A2, B2)
    np.testing.assert_allclose(C2, want, rtol=1e-12)
    with pytest.raises(ArgumentError, match=r"sizes that were equal.*C.shape\[1\]=33"):
        result.run(np.zeros((21, 33)), rng.random((21, 17)), rng.random((17, 33)))
    generic = Signature.of(bind_arguments(user_kernels.matmul_acc, (C, A, B)), generic=True)
    assert generic.equal == () and generic.key != signature.key


def test_int_size_arguments_named_like_sympy_builtins(store, checkpoint, tmp_path):
    """Sizes passed as ints, named M, N, S, beta, gamma (SymPy built-ins), transferred at
    equal MINI-like sizes, are right at another shape; E (a constant to docc) is refused."""
    rng = np.random.default_rng(5)
    lookup = RecipeLookup(Storage(store), Embedder.from_checkpoint(checkpoint), cache=tmp_path)
    common = {"target": "cpu-omp", "settings": FAST, "lookup": lookup, "size": "LARGE", "generic": True}
    scaled = transfertune.transfer(user_kernels.scale_mn, 20, 20, rng.random((20, 20)), np.zeros((20, 20)), **common)
    A, B = rng.random((13, 27)), np.zeros((13, 27))
    scaled.run(13, 27, A, B)
    np.testing.assert_allclose(B, 2.0 * A + A[:, :1], rtol=1e-12)
    product = transfertune.transfer(user_kernels.product_sympy_named, 20, 20, 20, rng.random((20, 20)),
                                    rng.random((20, 20)), np.zeros((20, 20)), **common)
    assert not product.run.guard.signature.pinned
    Q, R, P = rng.random((13, 19)), rng.random((19, 27)), rng.random((13, 27))
    want = P + Q @ R
    product.run(13, 27, 19, Q, R, P)
    np.testing.assert_allclose(P, want, rtol=1e-12)
    with pytest.raises(ArgumentError, match="argument Q"):  # gamma larger than Q's columns
        product.run(13, 27, 23, Q, R, P)
    with pytest.raises(ValueError, match="int argument E of rows_named_e: docc reads"):
        transfertune.transfer(user_kernels.rows_named_e, 20, rng.random((20, 20)), np.zeros((20, 20)), **common)


def test_a_pinned_program_refuses_other_int_sizes_on_the_same_arrays(store, checkpoint, tmp_path):
    """Pinned (docc could not bound the accesses): H = W = 300 on the arrays of H = W = 20
    would write far past `out`; the call is refused before native code runs."""
    rng = np.random.default_rng(6)
    A, out = rng.random((20, 20)), np.zeros((10, 10))
    result = transfertune.transfer(user_kernels.sum_pool_hw, 20, 20, A, out, target="cpu-seq", settings=FAST,
                                   lookup=RecipeLookup(Storage(store), Embedder.from_checkpoint(checkpoint),
                                                       cache=tmp_path), size="LARGE")
    assert result.run.guard.signature.pinned and "H: int=20" in result.report["shape_class"]
    result.run(20, 20, A, out)
    np.testing.assert_allclose(out, A.reshape(10, 2, 10, 2).sum(axis=(1, 3)), rtol=1e-12)
    with pytest.raises(ValueError, match=r"built for \(H: int=20, W: int=20.*called with \(H: int=300, W: int=300"):
        result.run(300, 300, A, out)
    with pytest.raises(ArgumentError, match="shapes and int values it was checked at"):
        result.run(20, 18, A, out)


def test_size_expressions_read_every_name_as_a_symbol():
    from transfertune.ir.symbolic import parse_sizes

    expr = parse_sizes("8*(1 + max(E*N - 1, pi + S*beta)) + idiv(gamma, 2) + Q + O + M")
    assert {str(s) for s in expr.free_symbols} == {"E", "N", "pi", "S", "beta", "gamma", "Q", "O", "M"}
    values = {"E": 3, "N": 5, "pi": 2, "S": 4, "beta": 1, "gamma": 7, "Q": 1, "O": 1, "M": 1}
    assert expr.subs({s: values[str(s)] for s in expr.free_symbols}) == 8 * (1 + 14) + 3 + 3
    # where a program's time goes, with loops bounded by int arguments M and N
    from transfertune.ir.work import nest_work
    from transfertune.porting.user import parse_user_program

    program = parse_user_program(user_kernels.scale_mn, bind_arguments(
        user_kernels.scale_mn, (20, 30, np.zeros((20, 30)), np.zeros((20, 30))))).program
    (one,), (six,) = nest_work(program, {"M": 1, "N": 1}), nest_work(program, {"M": 2, "N": 3})
    assert six == 6 * one > 1


def test_python_and_c_semantics_mismatch_is_a_clear_error(store, checkpoint):
    values = np.arange(-20, 20, dtype=np.int64)
    with pytest.raises(ValueError, match="computes B differently from Python"):
        transfertune.transfer(user_kernels.floor_third, values, np.zeros(40, dtype=np.int64), db=store,
                              checkpoint=checkpoint)
    with pytest.raises(ValueError, match="differently from Python|untouched build .* crash"):
        transfertune.transfer(user_kernels.reversed_copy, np.random.rand(40), np.full(40, np.nan), db=store,
                              checkpoint=checkpoint)


def test_decorator_transfers_once_per_shape_class_and_stays_correct(store, checkpoint, tmp_path):
    @transfertune.jit(target="cpu-seq", db=store, checkpoint=checkpoint, settings=FAST, size="LARGE")
    def scaled_rows(A: np.ndarray, s: np.ndarray, out: np.ndarray) -> None:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                out[i, j] = A[i, j] * s[i]

    rng = np.random.default_rng(2)
    A, s = rng.random((48, 40)).astype(np.float32), rng.random(48).astype(np.float32)
    out = np.zeros((48, 40), dtype=np.float32)
    scaled_rows(A, s, out)  # first call: transfer, then the compiled program computes the result
    np.testing.assert_allclose(out, A * s[:, None], rtol=1e-6)
    assert len(scaled_rows.reports) == 1
    A2, s2, out2 = rng.random((9, 31)).astype(np.float32), rng.random(9).astype(np.float32), np.zeros((9, 31), np.float32)
    scaled_rows(A2, s2, out2)
    np.testing.assert_allclose(out2, A2 * s2[:, None], rtol=1e-6)
    assert len(scaled_rows.reports) == 1  # same shape class: no second transfer
    before = len(Storage(store).measurements())
    again = transfertune.transfer(scaled_rows.__wrapped__, A, s, out, target="cpu-seq", db=store,
                                  checkpoint=checkpoint)
    assert again.report["from_database"] is True and len(Storage(store).measurements()) == before


def test_query_api_answers_for_a_function(store, checkpoint):
    answer = transfertune.query(user_kernels.matmul_acc, np.zeros((20, 30)), np.zeros((20, 25)), np.zeros((25, 30)),
                                db=store, checkpoint=checkpoint, sizes={"cpu-omp": "LARGE"})
    assert answer["program"] == "matmul_acc" and answer["nests"][0]["neighbours"]


def test_two_stores_never_share_a_cached_index(store, checkpoint, tmp_path):
    from transfertune.ir.loopnest import loop_nests
    from transfertune.ir.program import build_program
    from transfertune.ir.target import local_target
    from transfertune.measure.measurement import Measurement
    from transfertune.suites import get_kernel

    other = Storage(f"sqlite:///{tmp_path / 'other.db'}")
    kernel = get_kernel("atax")
    for nest in loop_nests("atax", build_program(kernel).sdfg()):
        other.record(Measurement("baseline", "ok", (1.0,)), kernel=kernel, target=local_target("cpu-omp"),
                     size="LARGE", run="r", nest=nest)
        other.record(Measurement("recipe", "ok", (0.5,)), kernel=kernel, target=local_target("cpu-omp"),
                     size="LARGE", run="r", nest=nest, recipe=transfertune_recipe())
    embedder = Embedder.from_checkpoint(checkpoint)
    cache = tmp_path / "shared-cache"
    args = (np.zeros((20, 30)), np.zeros((20, 25)), np.zeros((25, 30)))
    first = transfertune.query(user_kernels.matmul_acc, *args, lookup=RecipeLookup(Storage(store), embedder, cache=cache),
                               sizes={"cpu-omp": "LARGE"})
    second = transfertune.query(user_kernels.matmul_acc, *args, lookup=RecipeLookup(other, embedder, cache=cache),
                                sizes={"cpu-omp": "LARGE"})
    assert {n["kernel"] for n in second["nests"][0]["neighbours"]} == {"atax"}
    assert {n["kernel"] for n in first["nests"][0]["neighbours"]} - {"atax"}
    assert len(list(cache.glob("*.index.npz"))) == 2


def transfertune_recipe():
    from transfertune.ir.recipe import Recipe, Step

    return Recipe((Step("tile", (), {"size": 16}),))


def test_default_store_is_seeded_on_first_use_and_shared(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    expected = sum(1 for _ in (SEED / "measurements.jsonl").open())
    assert main(["db", "action=info"]) == 0
    assert f": {expected} measurements" in capsys.readouterr().out
    assert len(open_store().measurements()) == expected  # the API opens the same store, seeded once
    monkeypatch.setenv("TRANSFERTUNE_DB", f"sqlite:///{tmp_path / 'env.db'}")
    assert open_store().url.endswith("env.db")


@pytest.mark.parametrize("url", ["notaurl", "mysql://u@localhost/x", "postgresql+psycopg://u:p@127.0.0.1:1/none"])
def test_bad_database_url_is_one_line_and_exit_2(url, capsys):
    assert main(["db", "action=info", f"db={url}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("transfertune db:") and len(err.splitlines()) == 1


def test_every_command_has_help_and_light_commands_do_not_import_torch(capsys):
    for command in COMMANDS:
        assert main([command, "--help"]) == 0
        assert f"transfertune {command}:" in capsys.readouterr().out
    code = ("import sys; from transfertune.cli import main; main(['db', '--help']); main(['--help']); "
            "import transfertune; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-m", "transfertune", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: transfertune" in out.stdout


def test_bad_files_are_one_line_errors(tmp_path, store, checkpoint, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("import does_not_exist\n")
    sdfg = tmp_path / "bad.json"
    sdfg.write_text(json.dumps({"root": {"type": "nonsense"}, "containers": 7, "arguments": ["x"]}))
    common = [f"db={store}", f"checkpoint={checkpoint}"]
    for args, message in ((["query", f"function={broken}:f", *common], "importing"),
                          (["query", f"sdfg={sdfg}", *common], "not an SDFG"),
                          (["query", f"checkpoint={tmp_path / 'none.pt'}", "kernel=gemm", f"db={store}"], "not found")):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_scalars_form_of_the_readme_and_text_report(store, checkpoint, tmp_path, capsys):
    np.savez(tmp_path / "in.npz", A=np.random.rand(30, 20), out=np.zeros((30, 20)))
    function = f"function={Path(__file__).parent / 'user_kernels.py'}:axpy_rows"
    common = [f"db={store}", f"checkpoint={checkpoint}", "data.sizes.cpu-omp=LARGE", "target=cpu-omp"]
    assert main(["query", function, f"args={tmp_path / 'in.npz'}", "scalars={alpha:1.5}", *common]) == 0
    text = capsys.readouterr().out
    assert "nest 0:" in text and "neighbour" in text and "distance" in text
    assert main(["transfer", function, f"args={tmp_path / 'in.npz'}", "scalars={alpha:1.5}", "repetitions=2",
                 *common]) == 0
    text = capsys.readouterr().out
    assert "program recipe:" in text and "variants tried" in text


def test_transfer_measures_through_a_dask_executor(store, checkpoint, tmp_path):
    """The same measurement loop as tuning, on the Dask path: a user program's workload
    travels to the worker (its kernel detached, its inputs as files)."""
    distributed = pytest.importorskip("distributed")
    from transfertune.tune.executor import make_executor

    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       resources={"cpu-omp": 1}, dashboard_address=None)
    executor = make_executor("dask", target="cpu-omp", cluster=cluster)
    rng = np.random.default_rng(3)
    C, A, B = rng.random((24, 28)), rng.random((24, 20)), rng.random((20, 28))
    try:
        result = transfertune.transfer(user_kernels.matmul_acc_ijk, C, A, B, target="cpu-omp", settings=FAST,
                                       lookup=RecipeLookup(Storage(store), Embedder.from_checkpoint(checkpoint),
                                                           cache=tmp_path), size="LARGE", executor=executor)
    finally:
        executor.shutdown()
        cluster.close()
    assert result.report["nests"][0]["tried"] and result.report["measurements"]["baseline"]["status"] == "ok"
    out = C.copy()
    result.run(out, A, B)
    np.testing.assert_allclose(out, C + A @ B, rtol=1e-12)


def test_check_inputs_never_compare_nan_and_use_a_second_shape():
    from transfertune.porting.user import check_inputs, parse_user_program

    args = bind_arguments(user_kernels.matmul_acc, (np.full((40, 40), np.nan), np.random.rand(40, 30),
                                                    np.empty((30, 40))))
    equal = parse_user_program(user_kernels.matmul_acc, args).guard.signature.equal
    full, small = check_inputs(user_kernels.matmul_acc, args, equal)
    for inputs in (full, small):
        assert all(np.isfinite(v).all() for v in inputs.values())
    assert small["C"].shape != full["C"].shape and all(e % 2 for v in small.values() for e in v.shape)


def test_constant_inputs_never_make_a_check_vacuous():
    """All-ones inputs would hide a transposed read: the checks vary them; where the
    function raises on varied values (an index array), the given ones are used and a
    warning says why."""
    from transfertune.porting.user import check_inputs, parse_user_program

    args = bind_arguments(user_kernels.matmul_acc, (np.zeros((40, 30)), np.ones((40, 20)), np.ones((20, 30))))
    equal = parse_user_program(user_kernels.matmul_acc, args).guard.signature.equal
    full, small = check_inputs(user_kernels.matmul_acc, args, equal)
    for inputs in (full, small):
        assert all(np.ptp(v) > 0 for v in inputs.values())
    assert np.all(args["A"] == 1) and np.all(args["C"] == 0)  # the caller's arrays are left as they were
    assert np.all(full["A"] >= 1) and np.all(full["C"] >= 0)  # the sign and magnitude of the value are kept
    args = bind_arguments(user_kernels.gather, (np.zeros(40, dtype=np.int64), np.random.rand(1), np.zeros(40)))
    equal = parse_user_program(user_kernels.gather, args).guard.signature.equal
    with pytest.warns(UserWarning, match="idx, out hold one value throughout and the function raises"):
        full, small = check_inputs(user_kernels.gather, args, equal)
    assert np.all(full["idx"] == 0) and small["idx"].shape == (11,)


def test_second_shape_gives_equal_int_sizes_distinct_values():
    """M == N == 40 at transfer: a generic build's second shape must tell M from N (it
    used to make both 11); a default build holds them as one size, so its second shape
    keeps them equal and its guard refuses a call where they differ."""
    from transfertune.porting.user import check_inputs, parse_user_program

    args = bind_arguments(user_kernels.scale_mn, (40, 40, np.random.rand(40, 40), np.zeros((40, 40))))
    generic = parse_user_program(user_kernels.scale_mn, args, generic=True)
    _, small = check_inputs(user_kernels.scale_mn, args, generic.guard.signature.equal)
    sizes = [small["M"], small["N"], *small["A"].shape, *small["B"].shape]
    assert len(set(sizes)) == len(sizes) and all(s % 2 and s < 40 for s in sizes)
    assert small["M"] <= min(small["A"].shape[0], small["B"].shape[0])  # the call is valid: Python accepted it
    one = parse_user_program(user_kernels.scale_mn, args)
    _, small = check_inputs(user_kernels.scale_mn, args, one.guard.signature.equal)
    assert len({small["M"], small["N"], *small["A"].shape, *small["B"].shape}) == 1 and small["M"] < 40
    assert one.guard.accepts(bind_arguments(user_kernels.scale_mn, (13, 13, np.zeros((13, 13)), np.zeros((13, 13)))))
    with pytest.raises(ArgumentError, match="M=13 != N=17"):
        one.guard.check(bind_arguments(user_kernels.scale_mn, (13, 17, np.zeros((13, 17)), np.zeros((13, 17)))))


def test_square_inner_extents_parse_as_one_size_and_the_guard_keeps_them_equal():
    """X is C x H x W with H == W at the call: one symbol for both inner extents (its
    strides cannot be split per dimension, the byte check stays), and the guard refuses
    a call with H != W."""
    from transfertune.porting.user import parse_user_program

    guard = parse_user_program(user_kernels.channel_sum, bind_arguments(
        user_kernels.channel_sum, (np.zeros((3, 40, 40)), np.zeros((40, 40))))).guard
    assert ("X.shape[1]", "X.shape[2]", "out.shape[0]", "out.shape[1]") in guard.signature.equal
    assert guard.accepts(bind_arguments(user_kernels.channel_sum, (np.zeros((5, 17, 17)), np.zeros((17, 17)))))
    with pytest.raises(ArgumentError, match="X.shape\\[1\\]=17 != X.shape\\[2\\]=19"):
        guard.check(bind_arguments(user_kernels.channel_sum, (np.zeros((5, 17, 19)), np.zeros((17, 19)))))


def test_guard_refuses_an_inner_dimension_overrun_that_fits_in_the_bytes():
    from transfertune.porting.user import parse_user_program

    square = bind_arguments(user_kernels.copy_block, (np.zeros((40, 40)), np.zeros((40, 40))))
    guard = parse_user_program(user_kernels.copy_block, square, generic=True).guard
    assert guard.accepts(bind_arguments(user_kernels.copy_block, (np.zeros((20, 40)), np.zeros((10, 35)))))
    # B's rows are longer than A's: Python raises IndexError; in C the writes would wrap
    # into A's next row while staying inside A's bytes
    with pytest.raises(ArgumentError, match="dimension 1"):
        guard.check(bind_arguments(user_kernels.copy_block, (np.zeros((20, 30)), np.zeros((10, 35)))))
    with pytest.raises(ArgumentError, match="dimension 0"):
        guard.check(bind_arguments(user_kernels.copy_block, (np.zeros((5, 40)), np.zeros((10, 35)))))
    # One buffer passed twice (or overlapping views): a reordered program or a library call
    # could compute something else than the loops did, so it is refused.
    shared = np.zeros((20, 40))
    with pytest.raises(ArgumentError, match="overlap in memory"):
        guard.check(bind_arguments(user_kernels.copy_block, (shared, shared)))
    with pytest.raises(ArgumentError, match="overlap in memory"):
        guard.check(bind_arguments(user_kernels.copy_block, (shared[:10], shared[5:15])))


def test_a_guard_always_accepts_the_call_it_was_built_for():
    """docc's byte bound ignores guarding ifs (nussinov reads table[i, j-1] only when
    j > 0): where it would refuse the very call transferred, the shapes are pinned."""
    import inspect

    from transfertune.porting.user import parse_user_program
    from transfertune.suites import get_kernel

    kernel = get_kernel("nussinov")
    order = list(inspect.signature(kernel.func).parameters)

    def at(size):
        return bind_arguments(kernel.func, tuple(kernel.arguments(size)[n] for n in order))

    guard = parse_user_program(kernel.func, at("MINI")).guard
    assert guard.signature.pinned and guard.accepts(at("MINI"))
    with pytest.raises(ArgumentError, match="built for"):
        guard.check(at("SMALL"))
