"""Optional int8 inference on CPU: dynamic quantisation of a model's Linear layers.

``torch.ao.quantization.quantize_dynamic`` stores Linear weights as int8 and quantises
activations on the fly, so no calibration data is needed. The benchmarks (``benchmarks/RESULTS.md``)
measured 2-5x the batch throughput of float32/bfloat16 on this project's CPU demos; it is a setting
(``LSM_CPU_QUANTIZE=int8``), off by default, because answers can shift slightly and only real
weights can show by how much for a given model.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from backend.config import Settings
from backend.models import catalog
from backend.models.device import DeviceInfo

INT8 = "int8"
CHOICES = ("none", INT8)
# The demo tasks the benchmark measured; embeddings and fine-tuning bases stay in float.
INT8_TASKS = (catalog.SENTIMENT, catalog.TRANSLATION, catalog.IMAGE_CLASSIFICATION, catalog.TEXT_GENERATION)


def wants_int8(task: str, device: DeviceInfo, settings: Settings) -> bool:
    """Whether ``task`` is loaded with int8 Linear layers: CPU only, and only when set."""
    return device.kind == "cpu" and settings.cpu_quantize == INT8 and task in INT8_TASKS


def quantize_int8(model: Any) -> Any:
    """``model`` with every ``torch.nn.Linear`` replaced by a dynamically quantised int8 one.

    Quantisation needs float32 weights, so the model is converted first (the loader loads it in
    float32 to begin with); it is changed in place and stays in eval mode.
    """
    with warnings.catch_warnings():
        # torch 2.13 announces that quantised tensors will move to torchao; they work as pinned.
        warnings.simplefilter("ignore", UserWarning)
        # In place: a copy would hold a second float32 model in memory while quantising.
        quantized = torch.ao.quantization.quantize_dynamic(
            model.float(), {torch.nn.Linear}, dtype=torch.qint8, inplace=True
        )
    quantized.eval()
    return quantized


def packed_weight_bytes(model: Any) -> int:
    """Bytes of the int8 weights, which ``model.parameters()`` no longer lists."""
    total = 0
    for module in model.modules():
        if isinstance(module, torch.ao.nn.quantized.dynamic.Linear):
            weight = module.weight()
            total += weight.numel() * weight.element_size()
    return total
