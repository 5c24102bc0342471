"""The ``transfertune`` console script: ``transfertune COMMAND key=value ...``.

Each command is a plain function taking a composed hydra config (configs/COMMAND.yaml
plus the overrides); this module only composes the config and dispatches, so tests
call the same functions with configs they compose themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def _commands() -> dict[str, Callable[[DictConfig], int]]:
    from transfertune.commands import (
        baseline,
        db,
        experiment,
        index,
        query,
        report,
        run,
        transfer,
        tune,
        verify,
    )
    from transfertune.train.app import evaluate_embeddings

    return {"verify": verify.main, "run": run.main, "baseline": baseline.main, "tune": tune.main,
            "report": report.main, "db": db.main, "evaluate-embeddings": evaluate_embeddings,
            "experiment": experiment.main, "query": query.main, "transfer": transfer.main, "index": index.main}


def load_config(command: str, overrides: list[str]) -> DictConfig:
    """Compose configs/<command>.yaml with hydra-style ``key=value`` overrides."""
    if not CONFIG_DIR.is_dir():
        raise SystemExit(f"config directory {CONFIG_DIR} not found; install transfertune from "
                         "its repository (pip install -e .)")
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name=command, overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "train":  # hydra's own main: multirun (-m) and run directories
        from transfertune.train.app import run_train

        return run_train(args[1:])
    commands = _commands()
    if not args or args[0] in ("-h", "--help") or args[0] not in commands:
        print(f"usage: transfertune {{{','.join(['train', *commands])}}} [key=value ...]\n"
              f"configs and their keys: {CONFIG_DIR}/<command>.yaml", file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    try:
        cfg = load_config(args[0], args[1:])
    except HydraException as err:
        print(f"transfertune {args[0]}: bad override: {err}", file=sys.stderr)
        return 2
    try:
        return commands[args[0]](cfg)
    except ValueError as err:
        print(f"transfertune {args[0]}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
