"""Numerical tolerances that follow the dtype a path really computes in, and the settings that force it.

A comparison between two ways of computing the same numbers (chunked and whole prefill, one input
and a batch, a converted load and the ordinary one) may only ask for the agreement the arithmetic
gives. That depends on the dtype the products run in, not on the host: the same bfloat16 product
can round one way in AMX's tile kernels and another way in an AVX2 CPU's emulation or for another
row count, so a float32-sized tolerance on a bfloat16 path passes on one machine and fails on the
next. Tests take their bounds from here, in units of the dtype's own precision.
"""

from __future__ import annotations

import dataclasses

import torch

from backend import config

# The two paths a CPU demo can compute in; the setting ``cpu_bfloat16`` picks one ("off", "on").
COMPUTE_DTYPES = ("float32", "bfloat16")
_SETTING = {"float32": "off", "bfloat16": "on"}

# One unit of disagreement between two computations of the same value, relative to its size.
# float32 keeps 24 significant bits (eps 1.2e-7); reordered sums (another kernel, another thread
# count, another chunking) move a result by tens to hundreds of eps at these sizes: 1e-5 covers
# that and still catches any real difference. bfloat16 keeps 8 (eps 2**-7 = 0.0078): each rounded
# product or activation may land one ulp, up to eps relative, away from the other computation's.
_UNIT = {torch.float32: 1e-5, torch.bfloat16: torch.finfo(torch.bfloat16).eps}


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """``atol`` and ``rtol`` for ``torch.allclose`` and ``pytest.approx``-style checks."""

    atol: float
    rtol: float

    def kwargs(self) -> dict[str, float]:
        """As keyword arguments for ``torch.allclose`` / ``numpy.allclose``."""
        return {"atol": self.atol, "rtol": self.rtol}


def dtype_of(dtype: torch.dtype | str) -> torch.dtype:
    """``dtype`` as a torch dtype ("bfloat16" or torch.bfloat16)."""
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def unit(dtype: torch.dtype | str) -> float:
    """One rounding step of ``dtype``, relative (see ``_UNIT`` for the reason of each figure)."""
    return _UNIT[dtype_of(dtype)]


def tolerance(dtype: torch.dtype | str, roundings: int = 1, scale: float = 1.0) -> Tolerance:
    """The agreement two computations in ``dtype`` can promise after ``roundings`` rounding steps
    that may go different ways, for values of size about ``scale`` (atol is relative to it, so
    values near zero are not held to a relative bound)."""
    relative = roundings * unit(dtype)
    return Tolerance(atol=relative * scale, rtol=relative)


def settings_computing_in(settings: config.Settings, dtype: str) -> config.Settings:
    """``settings`` with the CPU demos forced to compute in ``dtype`` whatever this CPU has (a CPU
    without bfloat16 units emulates it, so every host runs both paths)."""
    return dataclasses.replace(settings, cpu_bfloat16=_SETTING[dtype])
