"""The console commands, one module each, each a ``main(cfg) -> exit code``."""
