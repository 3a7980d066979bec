"""The int8 load-peak benchmark's own pieces (its figures come from full-size models, run by hand)."""

from __future__ import annotations

import torch

from benchmarks import int8_load


def test_weights_count_int8_layers_at_one_byte_and_float_tensors_at_theirs():
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.LayerNorm(32))
    quantised = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    # 64 x 32 int8 weights and the norm's weight and bias in float32; the quantised layer's bias
    # lives inside its packed weight and is not counted (which only makes the ratio stricter).
    assert int8_load._weights_bytes(quantised) == 64 * 32 + 2 * 32 * 4
    # As packed: 64 inputs padded to fbgemm's block of 512 (other engines keep the values' size).
    packed = 512 * 32 if torch.backends.quantized.engine in ("x86", "fbgemm") else 64 * 32
    assert int8_load._resident_weights_bytes(quantised) == packed + 2 * 32 * 4


def test_the_table_shows_each_row_and_a_failed_one():
    row = {"task": "translation", "mode": "int8", "load_alone_mb": 140.0, "with_answer_mb": 149.3,
           "added_peak_mb": 266.4, "preprocessor_mb": 30.3, "weights_mb": 203.1, "peak_over_weights": 1.31,
           "packed_mb": 204.0, "peak_over_packed": 1.31, "without_preprocessor": 1.16, "load_seconds": 9.5}  # fmt: skip
    failed = {"task": "sentiment", "mode": "int8", "error": "Traceback ... MemoryError"}
    text = int8_load.render({"load_average_start": [1.0], "load_average_end": [2.0], "rows": [row, failed]})
    lines = text.splitlines()
    assert (
        "| translation | int8 | 140.0 | 266.4 | 203.1 | ×1.31 | 204.0 | ×1.31 | ×1.16 (30.3) | 149.3 | 9.5 |" in lines
    )
    assert any(line.startswith("| sentiment | int8 | failed:") and "MemoryError" in line for line in lines)
    assert len({line.count("|") for line in lines if line.startswith("|")}) == 1  # every row has every column
