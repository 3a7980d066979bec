"""Compute device choice: CUDA, then Apple MPS, then CPU, unless a setting says otherwise."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch

from backend.models.resolve.hardware_names import cpu_name

_CHOICES = ("auto", "cuda", "mps", "cpu")


@dataclass(frozen=True)
class DeviceInfo:
    """Where models run. ``half_dtype`` is the reduced precision used on this device, if any."""

    kind: str
    torch_device: str
    name: str
    half_dtype: str | None
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


def _cuda() -> DeviceInfo:
    # bf16 keeps fp32's range (no loss scaling, no overflow in softmax); fp16 only where bf16 isn't.
    half = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return DeviceInfo("cuda", "cuda:0", torch.cuda.get_device_name(0), half)


def _mps() -> DeviceInfo:
    return DeviceInfo("mps", "mps", "Apple MPS", "float16")


def _cpu(note: str = "") -> DeviceInfo:
    return DeviceInfo("cpu", "cpu", cpu_name(os.cpu_count() or 1), None, note)


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def choose_device(preference: str = "auto") -> DeviceInfo:
    """The device for ``preference`` (auto, cuda, mps or cpu).

    A preference that this machine cannot honour falls back to the CPU with a note, so a
    settings file shared between a GPU server and a laptop does not stop the app.
    """
    preference = preference.strip().lower()
    if preference not in _CHOICES:
        return _cpu(f"Unknown device setting {preference!r}; expected one of {', '.join(_CHOICES)}.")
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        return _cuda()
    if preference in ("auto", "mps") and _mps_available():
        return _mps()
    if preference in ("cuda", "mps"):
        return _cpu(f"Device {preference!r} was requested but is not available here.")
    return _cpu()


def cpu_computes_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), not by emulation.

    Where it does, bfloat16 matrix products run several times faster than float32 ones (the
    benchmarks measured 3-4x on a 2-core AMD EPYC); where it does not, they are slower.
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    for probe in probes:
        check = getattr(torch.cpu, probe, None)
        try:
            if check is not None and check():
                return True
        except RuntimeError:
            continue
    return False


def wants_cpu_bfloat16(preference: str) -> bool:
    """Whether CPU demos load in bfloat16 for the ``cpu_bfloat16`` setting (auto, on or off)."""
    preference = preference.strip().lower()
    if preference == "on":
        return True
    return preference == "auto" and cpu_computes_bfloat16()


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype called ``name`` ("float32", "bfloat16", "float16")."""
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
