import json
import subprocess
import sys

import numpy as np
import pytest

from transfertune.ir.loopnest import canonical_json, loop_nests, parse_sdfg
from transfertune.ir.program import build_program, probe_params
from transfertune.suites.polybench import NAMES, all_kernels, get_kernel


def test_thirty_kernels_with_sizes_flops_and_outputs():
    kernels = all_kernels()
    assert [k.name for k in kernels] == list(NAMES) and len(kernels) == 30
    for k in kernels:
        assert set(k.sizes) == {"MINI", "SMALL", "MEDIUM", "LARGE", "EXTRALARGE"}
        assert k.flops(**k.params("LARGE")) > k.flops(**k.params("MINI")) > 0
        args = k.arguments("MINI")
        assert set(k.outputs) <= set(args)
        # deterministic inputs
        again = k.arguments("MINI")
        for name, value in args.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float64 and np.array_equal(value, again[name])


def test_unknown_kernel_and_size_are_clear_errors():
    with pytest.raises(ValueError, match="unknown kernel 'gemmm'"):
        get_kernel("gemmm")
    with pytest.raises(ValueError, match="unknown size 'HUGE'"):
        get_kernel("gemm").params("HUGE")


def test_probe_sizes_keep_every_extent_distinct():
    # deriche MINI has W == H and adi MINI has TSTEPS == N: parsing there would merge symbols
    for name in ("deriche", "adi", "gemm"):
        params = probe_params(get_kernel(name))
        assert len(set(params.values())) == len(params)
    program = build_program(get_kernel("deriche"))
    assert len(program.symbols) == 2


def test_call_values_follow_the_symbol_sources():
    program = build_program(get_kernel("gemm"))
    args = get_kernel("gemm").arguments("MINI")
    values = program.call_values(args)
    assert values[-3:] == [20, 25, 30]  # NI, NJ, NK from C and A shapes


def test_nests_split_and_hash_stably_across_processes():
    program = build_program(get_kernel("2mm"))
    nests = loop_nests("2mm", program.sdfg())
    assert len(nests) == 2
    assert nests[0].nest_hash != nests[1].nest_hash
    code = ("from transfertune.suites.polybench import get_kernel;"
            "from transfertune.ir.program import build_program;"
            "from transfertune.ir.loopnest import loop_nests;"
            "print(' '.join(n.nest_hash for n in loop_nests('2mm', build_program(get_kernel('2mm')).sdfg())))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [n.nest_hash for n in nests]


def test_canonical_form_ignores_ids_order_and_debug_info():
    a = {"root": {"element_id": 7, "debug_info": {"start_line": 3},
                  "dataflow": {"type": "dataflow", "nodes": [{"element_id": 9, "data": "A"},
                                                            {"element_id": 8, "data": "B"}],
                               "edges": [{"element_id": 10, "src": 8, "dst": 9}]}}}
    b = {"root": {"element_id": 70, "debug_info": {"start_line": 30},
                  "dataflow": {"type": "dataflow", "nodes": [{"element_id": 80, "data": "B"},
                                                            {"element_id": 90, "data": "A"}],
                               "edges": [{"element_id": 100, "src": 80, "dst": 90}]}}}
    assert canonical_json(a) == canonical_json(b)
    b["root"]["dataflow"]["nodes"][0]["data"] = "C"
    assert canonical_json(a) != canonical_json(b)


def test_invalid_sdfg_json_is_a_clear_error():
    with pytest.raises(ValueError, match="invalid JSON"):
        parse_sdfg("{")
    with pytest.raises(ValueError, match="expected a JSON object with root"):
        parse_sdfg(json.dumps({"nodes": []}))


HASH_ALL = (
    "import sys\n"
    "from transfertune.suites.polybench import NAMES, get_kernel\n"
    "from transfertune.ir.program import build_program\n"
    "from transfertune.ir.loopnest import loop_nests\n"
    "names = list(NAMES)[::int(sys.argv[1])]\n"
    "hashes = {n: [x.nest_hash for x in loop_nests(n, build_program(get_kernel(n)).sdfg())] for n in names}\n"
    "print(*(f'{n}:{h}' for n in sorted(hashes) for h in hashes[n]))\n"
)


def test_every_nest_hash_is_independent_of_parse_order():
    """docc numbers elements in a run-dependent order; the hash must not see it."""
    runs = [subprocess.run([sys.executable, "-c", HASH_ALL, step], capture_output=True, text=True,
                           check=True).stdout.split() for step in ("1", "-1")]
    assert runs[0] == runs[1]
    assert len(runs[0]) >= 30


def test_floyd_warshall_minimum_is_a_select_clang_can_vectorise():
    """Written as a conditional expression, docc emits flag-setting branches clang cannot
    if-convert (0.49x of PolyBench's C under clang -O3); written with `min()` it emits
    `fmin`, a select."""
    from transfertune.backends.cpu import CpuBackend

    backend = CpuBackend()
    program = build_program(get_kernel("floyd-warshall"))
    code = backend.source(program.sdfg(), backend.local_target("cpu-seq"))
    assert program.arguments == ("path", "_s0")
    assert "fmin(" in code
    assert "else if" not in code
