"""Where the project's own files are: configs, the shipped seed and checkpoint.

One place, so that no module counts `parents[...]` of its own path to find them.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository (transfertune is installed editable from it)."""
CONFIG_DIR = ROOT / "configs"
SEED = ROOT / "data" / "seed"
"""The shipped measurements (JSON Lines), imported into a new store on first use."""
CHECKPOINT = ROOT / "data" / "checkpoint" / "checkpoint.pt"
"""The shipped encoder checkpoint."""
