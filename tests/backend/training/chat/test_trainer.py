"""Pieces of the chat trainer: precision flags per device, padding that keeps the loss off padding."""

from __future__ import annotations

import torch

from backend.models.resolve.device import DeviceInfo
from backend.training.chat.data import IGNORE_INDEX
from backend.training.chat.trainer import _collator, mixed_precision

GPU_BF16 = DeviceInfo("cuda", "cuda", "GPU", "bfloat16")
GPU_FP16 = DeviceInfo("cuda", "cuda", "GPU", "float16")
CPU = DeviceInfo("cpu", "cpu", "CPU", None)


def test_bf16_on_gpus_that_have_it_and_on_a_cpu_only_when_asked():
    assert mixed_precision("auto", GPU_BF16) == {"fp16": False, "bf16": True}
    assert mixed_precision("auto", GPU_FP16) == {"fp16": True, "bf16": False}
    assert mixed_precision("fp32", GPU_BF16) == {"fp16": False, "bf16": False}
    assert mixed_precision("auto", CPU) == {"fp16": False, "bf16": False}
    assert mixed_precision("bf16", CPU) == {"fp16": False, "bf16": True}


def test_padding_is_masked_and_never_trained():
    batch = _collator(pad_id=0)(
        [{"input_ids": [5, 6, 7], "labels": [IGNORE_INDEX, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch["labels"].dtype == torch.long
