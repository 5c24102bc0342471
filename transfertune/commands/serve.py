"""``transfertune serve``: run the recipe service (uvicorn, one or more processes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from transfertune.paths import ROOT

_CONFIG = "TRANSFERTUNE_SERVE_CONFIG"
"""How the service processes uvicorn starts get their configuration."""


def main(cfg: DictConfig) -> int:
    import uvicorn

    settings = OmegaConf.to_container(cfg, resolve=True)
    app_from_config(settings)  # fail here, in one line, before any process starts
    os.environ[_CONFIG] = json.dumps(settings)
    uvicorn.run("transfertune.commands.serve:app_from_env", factory=True, host=str(cfg.host), port=int(cfg.port),
                workers=int(cfg.workers), log_level="warning")
    return 0


def app_from_env():  # noqa: ANN201 - uvicorn's factory hook
    return app_from_config(json.loads(os.environ[_CONFIG]))


def app_from_config(settings: dict):  # noqa: ANN201 - a FastAPI app
    from transfertune.db import open_store
    from transfertune.index.embedder import Embedder
    from transfertune.index.lookup import RecipeLookup
    from transfertune.serve.app import Limits, Service, create_app

    checkpoint = Path(settings["checkpoint"])
    lookup = RecipeLookup(open_store(settings["db"] or None),
                          Embedder.from_checkpoint(checkpoint if checkpoint.is_absolute() else ROOT / checkpoint))
    limits = Limits(max_body=int(float(settings["max_body_mb"]) * 2**20), per_minute=int(settings["per_minute"]),
                    seconds=float(settings["seconds"]))
    figure = Path(settings["map"]) if settings.get("map") else None
    if figure is not None and not figure.is_absolute():
        figure = ROOT / figure
    return create_app(Service(lookup, dict(settings["sizes"]), limits, int(settings["docc_workers"])), figure)
