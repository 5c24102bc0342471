"""``transfertune token``: create, revoke or list the recipe service's client tokens."""

from __future__ import annotations

from omegaconf import DictConfig

from transfertune.db import open_store


def main(cfg: DictConfig) -> int:
    storage = open_store(cfg.db or None)
    if cfg.action == "create":
        if not cfg.name:
            raise ValueError("name= is required")
        secret = storage.create_token(str(cfg.name), str(cfg.target))
        print(f"token {cfg.name} for {cfg.target} (shown once; the store keeps only its digest):")
        print(secret)
    elif cfg.action == "revoke":
        if not cfg.name:
            raise ValueError("name= is required")
        storage.revoke_token(str(cfg.name))
        print(f"token {cfg.name} revoked")
    elif cfg.action == "list":
        for name, target, active in storage.tokens():
            print(f"{name}\t{target}\t{'active' if active else 'revoked'}")
    else:
        raise ValueError(f"unknown action {cfg.action!r}; known: create, revoke, list")
    return 0
