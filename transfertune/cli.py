"""The ``transfertune`` console script: ``transfertune COMMAND key=value ...``.

Each command is a plain function taking a composed hydra config (configs/COMMAND.yaml
plus the overrides); this module only composes the config and dispatches, so tests
call the same functions with configs they compose themselves. Command modules are
imported only when their command runs: `--help`, `db` or `report` never load torch.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from omegaconf import DictConfig

from transfertune.paths import CONFIG_DIR

COMMANDS: dict[str, tuple[str, str]] = {
    "verify": ("transfertune.commands.verify:main", "build, run and check every kernel against NumPy"),
    "run": ("transfertune.commands.run:main", "time one kernel with a recipe against its peers"),
    "baseline": ("transfertune.commands.baseline:main", "table of the untouched code, Polly and docc's schedule"),
    "tune": ("transfertune.commands.tune:main", "search recipes per loop nest and record them"),
    "report": ("transfertune.commands.report:main", "what tuning achieved, per kernel, from the store"),
    "db": ("transfertune.commands.db:main", "export / import / count the measurement store"),
    "index": ("transfertune.commands.index:main", "build or top up the recipe index of a target"),
    "query": ("transfertune.commands.query:main", "nearest measured nests and their recipes"),
    "transfer": ("transfertune.commands.transfer:main", "port neighbours' recipes onto a kernel, keep what is faster"),
    "serve": ("transfertune.commands.serve:main", "the recipe service for docc's client (HTTP)"),
    "farm": ("transfertune.commands.farm:main", "tune the programs service clients asked about, least known first"),
    "token": ("transfertune.commands.token:main", "create / revoke / list the service's client tokens"),
    "experiment": ("transfertune.commands.experiment:main", "transfer experiments (polybench_loo, unseen)"),
    "evaluate-embeddings": ("transfertune.train.app:evaluate_embeddings", "judge the embedding by recipe choice"),
    "train": ("transfertune.train.app:run_train", "train the loop-nest encoder (hydra; -m for sweeps)"),
}
"""Command -> (module:function, one line of what it does)."""


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: transfertune COMMAND [key=value ...]   (python -m transfertune works too)", "",
             "commands:"]
    lines += [f"  {name:{width}s}  {what}" for name, (_, what) in COMMANDS.items()]
    lines += ["", "transfertune COMMAND --help shows a command's keys and defaults "
              f"(configs/COMMAND.yaml under {CONFIG_DIR})."]
    return "\n".join(lines)


def command_help(command: str) -> str:
    """A command's purpose and its config file: every key with its default and comment."""
    config = CONFIG_DIR / f"{command}.yaml"
    text = config.read_text() if config.exists() else ""
    return (f"transfertune {command}: {COMMANDS[command][1]}\n\nkeys (override as key=value), "
            f"from {config}:\n\n{text}")


def _resolve(command: str) -> Callable:
    module, _, function = COMMANDS[command][0].partition(":")
    return getattr(importlib.import_module(module), function)


def load_config(command: str, overrides: list[str]) -> DictConfig:
    """Compose configs/<command>.yaml with hydra-style ``key=value`` overrides."""
    from hydra import compose, initialize_config_dir

    if not CONFIG_DIR.is_dir():
        raise SystemExit(f"config directory {CONFIG_DIR} not found; install transfertune from "
                         "its repository (pip install -e .)")
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name=command, overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"transfertune: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    if any(a in ("-h", "--help") for a in rest):
        print(command_help(command))
        return 0
    if command == "train":  # hydra's own main: multirun (-m) and run directories
        return _resolve(command)(rest)
    from hydra.errors import HydraException

    try:
        cfg = load_config(command, rest)
    except HydraException as err:
        print(f"transfertune {command}: bad override: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    try:
        return _resolve(command)(cfg)
    except ValueError as err:  # bad input of any kind: one line, exit 2
        message = str(err).strip()
        print(f"transfertune {command}: {message.splitlines()[0] if message else repr(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
