import json
import re

import pytest

from transfertune.ir.nest_json import NotMatrixProduct
from transfertune.ir.program import build_program
from transfertune.ir.recipe import ProgramRecipe, Recipe, Step
from transfertune.ir.transform import apply_program_recipe, apply_recipe, replayable
from transfertune.suites.polybench import get_kernel


def gemm_sdfg():
    return build_program(get_kernel("gemm")).sdfg()


def test_steps_apply_in_order_on_the_tree_as_it_is_then():
    sdfg = gemm_sdfg()
    steps = (Step("tile", (), {"size": 32}), Step("parallelize", ()), Step("tile", (0, 1), {"size": 64}))
    sdfg, results = apply_recipe(sdfg, Recipe(steps))
    assert [r.applied for r in results] == [True, True, True]
    code = sdfg.to_cpp()
    assert "#pragma omp parallel for" in code and "32 + i_tile0" in code and "64 + k_tile0" in code


def test_steps_that_do_not_fit_are_skipped_with_a_reason():
    sdfg = gemm_sdfg()
    steps = (
        Step("tile", (3,), {"size": 8}),          # no such loop
        Step("parallelize", (1,)),                 # k loop: a sequential For, not a map
        Step("interchange", (0,), {"inner": (1,)}),  # siblings, not nested
        Step("tile", (), {"size": 16}),            # still applies after the skips
    )
    sdfg, results = apply_recipe(sdfg, Recipe(steps))
    assert [r.applied for r in results] == [False, False, False, True]
    assert "has 2 child loop(s), no [3]" in results[0].reason
    assert results[1].reason == ("loop is not a parallel map: docc left it sequential, "
                                 "and two iterations of k touch one element of C")
    assert results[2].reason.startswith("no counted loop") and "directly inside" in results[2].reason


def test_plain_recipe_is_tried_on_every_nest_and_program_recipe_on_its_own():
    sdfg = build_program(get_kernel("2mm")).sdfg()
    _, results = apply_program_recipe(sdfg, Recipe((Step("parallelize", ()),)))
    assert [(r.nest, r.applied) for r in results] == [(0, True), (1, True)]
    sdfg = build_program(get_kernel("2mm")).sdfg()
    _, results = apply_program_recipe(sdfg, ProgramRecipe({1: Recipe((Step("parallelize", ()),)),
                                                         5: Recipe((Step("vectorize", ()),))}))
    assert [(r.nest, r.applied) for r in results] == [(1, True), (5, False)]
    assert results[1].reason == "program has 2 nests"


def test_steps_after_splitting_the_root_apply_to_every_part():
    """gemm's nest splits into its scaling and its product loops; parallelising after the
    split parallelises both (not only the first part), and the program stays correct."""
    from transfertune.ir.target import local_target
    from transfertune.measure.variants import Variant, measure_variants

    recipe = Recipe((Step("distribute", ()), Step("parallelize", ())))
    sdfg, results = apply_recipe(gemm_sdfg(), recipe)
    assert [(r.nest, r.step.op, r.applied) for r in results] == [(0, "distribute", True), (0, "parallelize", True),
                                                                  (1, "parallelize", True)]
    assert sdfg.to_cpp().count("#pragma omp parallel for") == 2
    measured = measure_variants(get_kernel("gemm"), local_target("cpu-omp"), "MINI",
                                [Variant("split", ProgramRecipe({0: recipe}))], benchmark=False)
    assert measured["split"].status == "ok", measured["split"].message


def test_local_storage_step_applies_and_the_program_stays_correct():
    from transfertune.ir.target import local_target
    from transfertune.measure.variants import Variant, measure_variants

    recipe = Recipe((Step("tile", (1,), {"size": 8}),
                     Step("local_storage", (1, 0), {"container": "A", "direction": "in"})))
    _, results = apply_recipe(gemm_sdfg(), recipe)
    assert [r.applied for r in results] == [True, True]
    checked = measure_variants(get_kernel("gemm"), local_target("cpu-seq"), "SMALL", [Variant("staged", recipe)],
                               benchmark=False)
    assert checked["staged"].status == "ok" and "local_storage [1, 0]: applied" in checked["staged"].message


def test_blas_step_turns_matrix_products_into_openblas_calls_that_verify():
    import subprocess

    from transfertune.ir import codegen
    from transfertune.ir.target import local_target
    from transfertune.measure.variants import Variant, measure_variants

    blas = Recipe((Step("blas", ()),))
    sdfg, results = apply_program_recipe(build_program(get_kernel("2mm")).sdfg(), blas)
    assert [(r.nest, r.applied) for r in results] == [(0, True), (1, True)]
    assert "tmp += A*B" in results[0].reason and "D += tmp*C" in results[1].reason
    assert [line.strip()[:12] for line in sdfg.to_cpp().splitlines() if "cblas_" in line and "extern" not in line] == [
        "cblas_dgemm("] * 2
    # Not a matrix product (a triangular product with a triangular operand): skipped with
    # the reason, the program unchanged.
    trmm = build_program(get_kernel("trmm")).sdfg()
    same, (skipped,) = apply_recipe(trmm, blas)
    assert same is trmm and not skipped.applied and skipped.reason == "no matrix product under this loop"
    # A library call ends its nest's recipe.
    _, after = apply_recipe(gemm_sdfg(), Recipe((Step("blas", ()), Step("parallelize", ()))))
    assert [r.applied for r in after] == [True, False] and after[1].reason.startswith("after blas")
    target = local_target("cpu-omp")
    checked = measure_variants(get_kernel("gemm"), target, "SMALL", [Variant("blas", blas)], benchmark=False)
    assert checked["blas"].status == "ok", checked["blas"].message
    source = codegen.generate(build_program(get_kernel("gemm")), target, "recipe", blas)
    build = codegen.build(source.code, codegen.compile_flags(target, "recipe", source.code))
    linked = subprocess.run(["ldd", build.library], capture_output=True, text=True).stdout
    assert "libopenblas" in linked, linked  # the optimised BLAS, not whatever -lblas resolves to


def test_independent_statements_in_one_block_are_split_so_each_product_becomes_a_call():
    """bicg updates s (Aᵀr) and q (Ap) in one block of one j loop, and docc distributes
    between blocks only: the block is split into one block per statement, the loops are
    distributed, and both matrix-vector products become calls (q's through a scalar
    temporary written in one block and stored in the next). atax's product loops appear
    only after its initialisation is split off. Both verify. A matrix-vector product is a
    cblas_dgemv call (one for A x, one for A' x), not a GEMM with n = 1."""
    from transfertune.ir.target import local_target
    from transfertune.measure.variants import Variant, measure_variants

    blas = Recipe((Step("blas", ()),))
    for name, products in (("bicg", "s += A*r; q += A*p"), ("atax", "tmp += A*x; y += A*tmp")):
        sdfg, results = apply_program_recipe(build_program(get_kernel(name)).sdfg(), blas)
        assert [r.reason for r in results if r.applied] == [products]
        calls = [line.strip()[:20] for line in sdfg.to_cpp().splitlines() if line.strip().startswith("cblas_")]
        assert sorted(calls) == ["cblas_dgemv(101, 111", "cblas_dgemv(101, 112"], calls
        checked = measure_variants(get_kernel(name), local_target("cpu-omp"), "SMALL", [Variant("blas", blas)],
                                   benchmark=False)
        assert checked["blas"].status == "ok", checked["blas"].message


def test_rank_updates_become_syrk_and_syr2k_calls_that_verify(tmp_path):
    """PolyBench's syrk and syr2k (lower triangle, scaled by beta first) become one
    cblas_dsyrk / cblas_dsyr2k call through docc's call node, declared by docc itself (no
    cblas.h) and linked to OpenBLAS; covariance's update too (upper triangle, ``range(i,
    M)`` which docc shifts to start at 0, A'A, between a zeroing and a division and mirror
    that stay loops: the dependence test proves the update may leave its loop); a user's
    upper-triangle A'A without scaling too. Each verifies; updates that are no rank
    update, or may not leave their loop, are refused."""
    import numpy as np

    from tests import user_kernels
    from transfertune.ir import codegen
    from transfertune.ir.rank_update import rank_update_rewrite
    from transfertune.ir.target import local_target
    from transfertune.measure.variants import Variant, measure_variants
    from transfertune.porting.user import parse_user_program, user_workload

    blas = Recipe((Step("blas", ()),))
    target = local_target("cpu-omp")
    for name, nest, routine in (("syrk", 0, "C (lower) = A*A' (cblas_dsyrk)"),
                                ("syr2k", 0, "C (lower) = A*B'+B*A' (cblas_dsyr2k)"),
                                ("covariance", 2, "cov (upper) = data'*data (cblas_dsyrk)")):
        _, results = apply_program_recipe(build_program(get_kernel(name)).sdfg(), blas)
        assert [r.reason for r in results if r.applied] == [routine] and results[nest].applied
        checked = measure_variants(get_kernel(name), target, "SMALL", [Variant("blas", blas)], benchmark=False)
        assert checked["blas"].status == "ok", checked["blas"].message
    code = codegen.generate(build_program(get_kernel("syrk")), target, "recipe", blas).code
    assert "#include <cblas.h>" not in code and 'extern "C" void cblas_dsyrk(' in code
    assert "-lopenblas" in codegen.compile_flags(target, "recipe", code)
    rng = np.random.default_rng(1)
    args = {"C": rng.random((23, 23)), "A": rng.random((17, 23))}
    user = parse_user_program(user_kernels.upper_gram, args)
    _, (result,) = apply_program_recipe(user.program.sdfg(), blas)
    assert result.reason == "C (upper) = A'*A (cblas_dsyrk)"
    checked = measure_variants(user_workload(user.program, args, [args], tmp_path), target, "user",
                               [Variant("blas", blas)], benchmark=False)
    assert checked["blas"].status == "ok", checked["blas"].message
    for func, why in ((user_kernels.cross_gram, "the update is neither A*A' nor A*B'+B*A'"),
                      (user_kernels.gram_then_damp, "A is touched by the second part and later by the first")):
        args = {"C": rng.random((9, 9)), "A": rng.random((9, 5)), "B": rng.random((9, 5))}
        args = {name: args[name] for name in func.__code__.co_varnames[:func.__code__.co_argcount]}
        program = parse_user_program(func, args).program
        _, (result,) = apply_program_recipe(program.sdfg(), blas)
        assert not result.applied and result.reason == "no matrix product under this loop", func.__name__
        data = json.loads(program.sdfg_json)
        with pytest.raises(NotMatrixProduct, match=re.escape(why)):
            rank_update_rewrite(data, data["root"]["children"][0]["element_id"])


def test_docc_client_recordings_skip_library_calls():
    from docc import sdfg as d

    recorder = d.Recorder()
    library_call = Recipe((Step("blas", ()),))
    sdfg, results = apply_program_recipe(gemm_sdfg(), library_call, recorder)
    assert not results[0].applied and "cannot replay blas" in results[0].reason
    assert not replayable(library_call) and not replayable(Recipe((Step("tile", (), {"size": 8}), Step("blas", ()))))
    assert replayable(Recipe((Step("tile", (), {"size": 8}), Step("parallelize", ()))))


def test_a_map_whose_iterations_race_is_never_parallelised():
    """docc calls trmm's ``i`` loop a map, but iteration i reads the rows k > i of B that
    later iterations write: run in parallel it races (and can still pass a small check).
    The dependence test refuses it; a truly parallel map (gemm's rows, trmm's columns
    once they are outermost) still parallelises."""
    import json

    from transfertune.ir.dependence import independent_iterations

    trmm = build_program(get_kernel("trmm")).sdfg()
    root = json.loads(trmm.to_json())["root"]["children"][0]
    independent, why = independent_iterations(trmm.to_json(), root["element_id"])
    assert not independent and why == "two iterations of i touch one element of B"
    _, (refused,) = apply_recipe(trmm, Recipe((Step("parallelize", ()),)))
    assert not refused.applied and refused.reason == "docc calls it a map, but two iterations of i touch one element of B"
    _, swapped = apply_recipe(build_program(get_kernel("trmm")).sdfg(),
                              Recipe((Step("interchange", ()), Step("parallelize", ()))))
    assert [r.applied for r in swapped] == [True, True]
    # Tiles do not hide the dependence: the tile loop of trmm's rows races too.
    _, tiled = apply_recipe(build_program(get_kernel("trmm")).sdfg(),
                            Recipe((Step("tile", (), {"size": 32}), Step("parallelize", ()))))
    assert [r.applied for r in tiled] == [True, False] and "i_tile0" in tiled[1].reason
    _, rows = apply_recipe(gemm_sdfg(), Recipe((Step("tile", (), {"size": 32}), Step("parallelize", ()))))
    assert [r.applied for r in rows] == [True, True]


def test_loops_swap_only_when_no_two_accesses_change_order():
    """docc lets floyd-warshall's k and i swap; i-k-j is not Floyd-Warshall (wrong on most
    graphs, right on PolyBench's data). Our test refuses it, and still lets i and j swap
    (for one k every conflict shares its j) and gemm's k and j (its update of C[i, j] is
    ordered along k alone). An access outside the inner loop, or a scalar one iteration
    leaves for the next, refuses the swap too."""
    from transfertune.ir.dependence import interchangeable

    floyd = build_program(get_kernel("floyd-warshall")).sdfg()
    outer = json.loads(floyd.to_json())["root"]["children"][0]
    inner = outer["root"]["children"][0]
    assert interchangeable(floyd.to_json(), outer["element_id"], inner["element_id"]) == (
        False, "swapping k and i reorders two accesses to path")
    _, (refused,) = apply_recipe(floyd, Recipe((Step("interchange", (), {"inner": (0,)}),)))
    assert not refused.applied and refused.reason == "swapping k and i reorders two accesses to path"
    _, (rows,) = apply_recipe(build_program(get_kernel("floyd-warshall")).sdfg(),
                              Recipe((Step("interchange", (0,), {"inner": (0, 0)}),)))
    assert rows.applied
    _, (gemm_kj,) = apply_recipe(gemm_sdfg(), Recipe((Step("interchange", (1,), {"inner": (1, 0)}),)))
    assert gemm_kj.applied
    _, (scaling,) = apply_recipe(gemm_sdfg(), Recipe((Step("interchange", (), {"inner": (1,)}),)))
    assert not scaling.applied and scaling.reason == "the outer loop's body has accesses outside the inner loop"
    _, (carried,) = apply_recipe(build_program(get_kernel("durbin")).sdfg(), Recipe((Step("interchange", ()),)))
    assert not carried.applied


def test_floyd_warshall_verification_data_tells_a_wrong_loop_order():
    """PolyBench's graph has short paths everywhere: the wrong i-k-j order gets it right.
    The verification data (`check_init`) does not let it pass."""
    import numpy as np

    kernel = get_kernel("floyd-warshall")

    def wrong_order_is_caught(path: np.ndarray) -> bool:
        right, wrong = path.copy(), path.copy()
        kernel.reference(right)
        for i in range(len(wrong)):
            for k in range(len(wrong)):
                wrong[i, :] = np.minimum(wrong[i, :], wrong[i, k] + wrong[k, :])
        return not np.allclose(right, wrong)

    assert not wrong_order_is_caught(kernel.arguments("MINI")["path"])
    assert wrong_order_is_caught(kernel.check_arguments("MINI")["path"])


def test_stride_order_walks_memory_in_the_innermost_loop():
    """trmm's innermost k walks columns of A and B; doitgen's s walks a column of C4. The
    stride order distributes and interchanges until the innermost loops walk rows, and
    the reordered programs verify."""
    from transfertune.ir.stride import stride_recipe, strided_cost
    from transfertune.ir.target import local_target
    from transfertune.measure.variants import Variant, measure_variants

    def ops(recipe: Recipe) -> list[tuple[str, tuple[int, ...]]]:
        return [(s.op, s.loop) for s in recipe.steps]

    trmm = build_program(get_kernel("trmm")).sdfg_json
    ordered = stride_recipe(trmm, 0, openmp=True)
    # No parallel loop: the rows race (see above) and the columns are below the reduction.
    assert ops(ordered) == [("distribute", (0,)), ("interchange", (0,)), ("vectorize", (1,)), ("vectorize", (0, 0))]
    after, _ = apply_recipe(build_program(get_kernel("trmm")).sdfg(), ordered)
    assert strided_cost(after.to_json()) < strided_cost(trmm)
    doitgen = stride_recipe(build_program(get_kernel("doitgen")).sdfg_json, 0, openmp=False)
    assert ops(doitgen)[:2] == [("distribute", (0, 0)), ("interchange", (0, 1))]
    # Already in stride order (gemm walks C and B along rows): no move, only the finish.
    gemm = stride_recipe(build_program(get_kernel("gemm")).sdfg_json, 0, openmp=True)
    assert ops(gemm) == [("parallelize", ()), ("vectorize", (0,)), ("vectorize", (1, 0))]
    # A stencil's statement groups each get their own parallel loop inside the time loop.
    heat = stride_recipe(build_program(get_kernel("heat-3d")).sdfg_json, 0, openmp=True)
    assert ops(heat)[:2] == [("parallelize", (0,)), ("parallelize", (1,))]
    checked = measure_variants(get_kernel("trmm"), local_target("cpu-omp"), "SMALL", [Variant("ordered", ordered)],
                               benchmark=False)
    assert checked["ordered"].status == "ok", checked["ordered"].message


def test_a_loop_docc_left_sequential_is_parallelised_once_proven_independent():
    """docc leaves adi's column sweep a sequential ``for``, although iteration i works on
    column i of v and row i of p and q alone. Our dependence test and the check that its
    scalars may be private prove it parallel: it is made a map, parallelised, and it
    verifies. deriche's ``j1`` carries its filter state ``xm1`` from one iteration to the
    next, so it stays sequential whatever its arrays do."""
    from transfertune.ir.target import local_target
    from transfertune.measure.variants import Variant, measure_variants

    _, (column,) = apply_recipe(build_program(get_kernel("adi")).sdfg(), Recipe((Step("parallelize", (0,)),)))
    assert column.applied, column.reason
    _, (carried,) = apply_recipe(build_program(get_kernel("deriche")).sdfg(), Recipe((Step("parallelize", (0,)),)))
    assert not carried.applied
    assert carried.reason == ("loop is not a parallel map: docc left it sequential, "
                              "and xm1 is carried from one iteration to the next")
    sweeps = Recipe((Step("parallelize", (0,)), Step("parallelize", (1,))))
    checked = measure_variants(get_kernel("adi"), local_target("cpu-omp"), "SMALL", [Variant("sweeps", sweeps)],
                               benchmark=False)
    assert checked["sweeps"].status == "ok", checked["sweeps"].message


def test_a_dot_product_docc_leaves_sequential_is_summed_in_a_register_and_vectorised():
    """docc reads ``A[i, j] += ...`` as a reduction but cholesky's ``A[i, j] -= A[i, k] *
    A[j, k]`` as a plain loop, whose sum clang keeps in order, one add latency a term. Our
    test proves it a sum into one element that no other access reaches; summed in a local
    buffer and vectorised, the program verifies. A sum one of whose terms reads its own
    element is refused, and the search is offered the buffer as a move."""
    import numpy as np

    from tests import user_kernels
    from transfertune.ir import codegen
    from transfertune.ir.dependence import accumulation
    from transfertune.ir.nest_json import walk
    from transfertune.ir.program import parse_program
    from transfertune.ir.stride import stride_recipe
    from transfertune.ir.target import local_target
    from transfertune.measure.variants import Variant, measure_variants
    from transfertune.porting.user import user_kernel
    from transfertune.tune.space import legal_moves

    def loop_id(sdfg_json: str, var: str) -> int:
        return next(n["element_id"] for n, _, _ in walk(json.loads(sdfg_json)["root"]) if n.get("indvar") == var)

    cholesky = build_program(get_kernel("cholesky")).sdfg_json
    assert accumulation(cholesky, loop_id(cholesky, "k")) == ("A", "")
    assert accumulation(cholesky, loop_id(cholesky, "j"))[0] is None
    func = user_kernels.sum_reaching_itself
    args = {"A": np.ones((11, 11)), "y": np.ones(11)}
    reaching = parse_program(user_kernel(func, args), args).sdfg_json
    assert accumulation(reaching, loop_id(reaching, "k")) == (None, "another access to y may reach the element summed into")

    summed = stride_recipe(cholesky, 0, openmp=False)
    buffer = Step("local_storage", (0, 0), {"container": "A", "direction": "out"})
    assert summed.steps[2:] == (buffer, Step("vectorize", (0, 0)))
    _, results = apply_recipe(build_program(get_kernel("cholesky")).sdfg(), summed)
    assert all(r.applied for r in results), results
    target = local_target("cpu-seq")
    code = codegen.generate(build_program(get_kernel("cholesky")), target, "recipe", summed).code
    assert code.count("#pragma clang loop vectorize(enable)") == 2
    assert buffer in legal_moves(build_program(get_kernel("cholesky")).sdfg(), 0, target)
    checked = measure_variants(get_kernel("cholesky"), target, "SMALL", [Variant("summed", summed)], benchmark=False)
    assert checked["summed"].status == "ok", checked["summed"].message
