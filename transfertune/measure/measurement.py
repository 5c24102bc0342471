"""Measurement values: what running one variant produced, failures included."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

DEVICE_SECONDS = "tt_device_seconds"
"""The double a GPU build exports and sums its kernels' device time of the last call into
(`transfertune.backends.cuda.instrument_launches`; the measuring child reads it)."""
DEVICE_RESIDENT = "tt_device_resident"
"""The int a GPU build exports when docc promoted its array arguments to device memory
(`transfertune.backends.cuda`): its entry point then takes device pointers, and the
measuring child copies the arrays in and the outputs back around each call."""
STATUSES = ("ok", "wrong", "unchanged", "compile-error", "crash", "time-out", "error")
"""ok: verified and timed; wrong: ran but disagrees with the NumPy reference; unchanged: a
recipe none of whose steps changed the program (its code is the untouched build's), never
timed, so noise cannot make it a winner; the rest say where it failed. Only 'ok'
measurements ever count as fast."""


@dataclass(frozen=True)
class Measurement:
    """One variant of one kernel at one size on one target."""

    variant: str
    status: str
    samples: tuple[float, ...] = ()
    """Wall-clock seconds of each timed repetition (warm-up excluded)."""
    message: str = ""
    max_error: float | None = None
    """Largest normalised error seen in verification."""
    phases: dict[str, float] = field(default_factory=dict)
    """Where the time went: generate, compile, verify, benchmark (seconds)."""
    device_samples: tuple[float, ...] = ()
    """GPU targets: seconds the same repetitions spent in kernels on the device (CUDA
    events; host<->device copies and allocation excluded). Empty elsewhere."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def device_median(self) -> float | None:
        return statistics.median(self.device_samples) if self.device_samples else None

    @property
    def spread(self) -> float:
        """Relative spread (max - min) / median of the samples; 0 for a single sample."""
        if len(self.samples) < 2 or self.median <= 0:
            return 0.0
        return (max(self.samples) - min(self.samples)) / self.median

    def to_json(self) -> dict[str, Any]:
        return {"variant": self.variant, "status": self.status, "samples": list(self.samples),
                "median": self.median if self.samples else None, "spread": self.spread,
                "message": self.message, "max_error": self.max_error, "phases": self.phases,
                "device_samples": list(self.device_samples), "device_median": self.device_median}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurement:
        return cls(data["variant"], data["status"], tuple(data.get("samples", ())), data.get("message", ""),
                   data.get("max_error"), dict(data.get("phases", {})), tuple(data.get("device_samples") or ()))
