"""Is generation bound by memory bandwidth or by compute, and how far from that bound is it?

Each decoding step reads every weight once (plus the KV cache) and does about two FLOPs per
weight per sequence in the batch. Dividing by the device's peak bandwidth and peak FLOPs gives
the fastest the step could be under each limit; the larger of the two is the bound. Measured
tokens/s include prefill and Python overhead, so the fractions of peak are lower bounds.

GPU peaks come from the vendors' data sheets (dense bf16/fp16 tensor FLOPs, HBM/GDDR bandwidth).
A CPU has no reliable sheet value, so its peaks are measured here: a large array copy for
bandwidth, a square matmul in the model's dtype for FLOPs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from backend.decisions.speed import GPU_DATA_SHEETS
from backend.models.resolve.device import DeviceInfo


@dataclass(frozen=True)
class DevicePeaks:
    """Peak bandwidth and compute of a device and where the figures come from."""

    bandwidth_gb_s: float
    tflops: float
    source: str

    @property
    def ridge_flops_per_byte(self) -> float:
        """Arithmetic intensity above which a kernel is compute bound."""
        return self.tflops * 1e12 / (self.bandwidth_gb_s * 1e9)


def gpu_peaks(name: str) -> DevicePeaks | None:
    """Data-sheet peaks of a GPU named like ``torch.cuda.get_device_name``; None if unknown."""
    for fragment, bandwidth, tflops in GPU_DATA_SHEETS:
        if fragment.lower() in name.lower():
            return DevicePeaks(bandwidth, tflops, f"data sheet ({fragment})")
    return None


def measure_cpu_peaks(dtype: torch.dtype = torch.float32, seconds: float = 0.5) -> DevicePeaks:
    """Achievable CPU bandwidth (array copy) and matmul FLOPs in ``dtype``, measured now."""
    source = np.ones(64 * 2**20 // 8, dtype=np.float64)  # 64 MB: far larger than any cache
    target = np.empty_like(source)
    copies, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        np.copyto(target, source)
        copies += 1
    bandwidth = 2 * source.nbytes * copies / (time.perf_counter() - started) / 1e9
    size = 1024
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        runs += 1
    tflops = 2 * size**3 * runs / (time.perf_counter() - started) / 1e12
    return DevicePeaks(
        round(bandwidth, 1), round(tflops, 4), f"measured on this CPU ({str(dtype).replace('torch.', '')})"
    )


@dataclass(frozen=True)
class GenerationBound:
    """Where generation stands against the device's limits."""

    weight_bytes: int
    bytes_per_step_single: int
    flops_per_token: float
    peaks: dict[str, Any]
    single_tokens_per_s: float
    single_bandwidth_fraction: float
    single_compute_fraction: float
    single_bound: str
    single_bound_tokens_per_s: float
    batch_size: int
    batch_tokens_per_s: float
    batch_bandwidth_fraction: float
    batch_compute_fraction: float
    batch_bound: str
    batch_bound_tokens_per_s: float
    summary: str

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


def _model_costs(model: torch.nn.Module, context_tokens: int) -> tuple[int, int, float]:
    """Weight bytes read per step, KV-cache bytes per sequence, FLOPs per token."""
    parameters = list(model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in parameters)
    params = sum(p.numel() for p in parameters)
    config = model.config
    embeddings = model.get_input_embeddings().weight
    tied = embeddings is getattr(model.get_output_embeddings(), "weight", None)
    if not tied:
        # An untied input embedding is only indexed, not read whole, each step.
        weight_bytes -= embeddings.numel() * embeddings.element_size()
        params -= embeddings.numel()
    layers = getattr(config, "num_hidden_layers", 0)
    heads = getattr(config, "num_attention_heads", 1)
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    hidden = getattr(config, "hidden_size", 0)
    head_dim = getattr(config, "head_dim", None) or (hidden // heads if heads else 0)
    element = parameters[0].element_size() if parameters else 4
    kv_bytes = 2 * layers * kv_heads * head_dim * context_tokens * element
    flops = 2 * params + 4 * layers * heads * head_dim * context_tokens
    return weight_bytes, kv_bytes, float(flops)


def _position(tokens_per_s: float, batch: int, weight_bytes: int, kv_bytes: int, flops: float, peaks: DevicePeaks):
    step_bytes = weight_bytes + batch * kv_bytes
    steps_per_s = tokens_per_s / batch if batch else 0.0
    bandwidth_fraction = step_bytes * steps_per_s / (peaks.bandwidth_gb_s * 1e9)
    compute_fraction = flops * tokens_per_s / (peaks.tflops * 1e12)
    intensity = flops * batch / step_bytes
    bound = "memory bandwidth" if intensity < peaks.ridge_flops_per_byte else "compute"
    step_limit = max(step_bytes / (peaks.bandwidth_gb_s * 1e9), flops * batch / (peaks.tflops * 1e12))
    return round(bandwidth_fraction, 4), round(compute_fraction, 4), bound, round(batch / step_limit, 1)


def generation_bound(
    model: torch.nn.Module,
    device: DeviceInfo,
    single_tokens_per_s: float,
    batch_tokens_per_s: float,
    batch_size: int,
    context_tokens: int,
) -> GenerationBound:
    """Compare measured generation speed with the device's bandwidth and compute limits.

    Args:
        model: the causal LM as loaded (its dtype sets the bytes per weight).
        device: where it ran; GPU peaks come from the table, CPU peaks are measured.
        single_tokens_per_s: new tokens per second of one request at a time.
        batch_tokens_per_s: new tokens per second of the batch run.
        batch_size: sequences decoded together in the batch run.
        context_tokens: typical prompt plus reply length (KV-cache reads).
    """
    dtype = next(model.parameters()).dtype
    peaks = gpu_peaks(device.name) if device.kind == "cuda" else None
    if peaks is None:
        peaks = measure_cpu_peaks(dtype if device.kind == "cpu" else torch.float32)
    weight_bytes, kv_bytes, flops = _model_costs(model, context_tokens)
    s_bw, s_fl, s_bound, s_limit = _position(single_tokens_per_s, 1, weight_bytes, kv_bytes, flops, peaks)
    b_bw, b_fl, b_bound, b_limit = _position(batch_tokens_per_s, batch_size, weight_bytes, kv_bytes, flops, peaks)
    summary = (
        f"One request: {s_bound} bound; {single_tokens_per_s:.1f} tokens/s is {max(s_bw, s_fl):.0%} of the "
        f"{s_limit:.0f} tokens/s that bound allows. Batch of {batch_size}: {b_bound} bound; "
        f"{batch_tokens_per_s:.1f} tokens/s is {max(b_bw, b_fl):.0%} of {b_limit:.0f}."
    )
    return GenerationBound(
        weight_bytes=weight_bytes,
        bytes_per_step_single=weight_bytes + kv_bytes,
        flops_per_token=flops,
        peaks={**asdict(peaks), "ridge_flops_per_byte": round(peaks.ridge_flops_per_byte, 2)},
        single_tokens_per_s=round(single_tokens_per_s, 2),
        single_bandwidth_fraction=s_bw,
        single_compute_fraction=s_fl,
        single_bound=s_bound,
        single_bound_tokens_per_s=s_limit,
        batch_size=batch_size,
        batch_tokens_per_s=round(batch_tokens_per_s, 2),
        batch_bandwidth_fraction=b_bw,
        batch_compute_fraction=b_fl,
        batch_bound=b_bound,
        batch_bound_tokens_per_s=b_limit,
        summary=summary,
    )
