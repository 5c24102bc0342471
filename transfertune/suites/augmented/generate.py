"""Choose, per base kernel and rewrite, the first candidate that keeps the kernel's
meaning, and record the choices in ``variants.json``.

``python -m transfertune.suites.augmented.generate [--suites polybench corpus]``
(``--list corpus`` prints the recorded variants of the corpus's kernels as a ``kernels=``
list and generates nothing: to tune those alone).

A candidate is kept when (1) run by the interpreter at MINI, from the verification inputs,
it leaves every output equal to what the original loops leave, and (2) docc parses it
into a program with as many loop nests as the original's. Both checks are about the
rewrite itself; the variant is then verified against the NumPy reference like every
kernel whenever it is built and measured.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np
from tqdm import tqdm

from transfertune.ir.kernel import Kernel, copy_args
from transfertune.isolated import run_isolated
from transfertune.suites import get_kernel, suite_names
from transfertune.suites.augmented import NAMES, VARIANTS_FILE, base_of, rewritten, variant_name
from transfertune.suites.augmented.rewrites import REWRITES

MAX_CANDIDATES = 12
"""Candidates tried per rewrite before giving up on it for a kernel."""


def same_outputs(base: Kernel, variant: Kernel, size: str = "MINI") -> bool:
    """Whether the variant's loops leave the same outputs as the base's (interpreted)."""
    args = base.check_arguments(size)
    expected, got = copy_args(args), copy_args(args)
    base.func(**expected)
    variant.func(**got)
    return all(np.allclose(expected[o], got[o], rtol=1e-10, atol=1e-12, equal_nan=True) for o in base.outputs)


def nest_count(kernel: Kernel) -> int:
    from transfertune.ir.loopnest import loop_nests
    from transfertune.ir.program import build_program

    return len(loop_nests(kernel.name, build_program(kernel).sdfg()))


def _nest_count(base_name: str, rewrite: str, choice: int) -> int:
    return nest_count(rewritten(get_kernel(base_name), rewrite, choice))


def choose(base: Kernel, rewrite: str) -> int | None:
    """The first candidate of `rewrite` on `base` that passes both checks."""
    nests = None
    for choice in range(MAX_CANDIDATES):
        variant = rewritten(base, rewrite, choice)
        if variant is None:
            return None
        try:
            if not same_outputs(base, variant):
                continue
        except Exception:  # noqa: BLE001 - a rewrite the interpreter rejects is no candidate
            continue
        nests = nests if nests is not None else nest_count(base)
        outcome = run_isolated(_nest_count, base.name, rewrite, choice, timeout=300)
        if outcome.ok and outcome.value == nests:
            return choice
    return None


def generate(suites: list[str]) -> dict[str, dict]:
    out = {}
    bases = [name for suite in suites for name in suite_names(suite)]
    for name in tqdm(bases, desc="augment", unit="kernel"):
        base = get_kernel(name)
        for rewrite in REWRITES:
            choice = choose(base, rewrite)
            if choice is not None:
                out[variant_name(name, rewrite)] = {"base": name, "rewrite": rewrite, "choice": choice}
    return out


def recorded_of(suite: str) -> str:
    """The recorded variants of `suite`'s kernels as a ``kernels=[...]`` value."""
    bases = set(suite_names(suite))
    return "[" + ",".join(n for n in NAMES if base_of(n) in bases) + "]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", nargs="+", default=["polybench", "corpus"])
    parser.add_argument("--list", metavar="SUITE", help="print the recorded variants of SUITE's kernels "
                        "as a kernels=[...] list; generate nothing")
    args = parser.parse_args()
    if args.list:
        print(recorded_of(args.list))
        return
    variants = generate(args.suites)
    with tempfile.NamedTemporaryFile("w", dir=VARIANTS_FILE.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(variants, tmp, indent=1)
        tmp.write("\n")
    os.replace(tmp.name, VARIANTS_FILE)
    print(f"{len(variants)} variants written to {VARIANTS_FILE}")


if __name__ == "__main__":
    main()
