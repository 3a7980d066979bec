"""The one safetensors reader: header, whole tensors, row blocks, and damaged files refused."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from backend.models import safetensors_file


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    file = tmp_path / "model.safetensors"
    save_file(
        {
            "embed": torch.arange(24, dtype=torch.float32).reshape(6, 4),
            "norm": torch.linspace(0, 1, 5).to(torch.bfloat16),
            "mask": torch.tensor([True, False, True]),
            "scalar": torch.tensor(3, dtype=torch.int64),
        },
        str(file),
    )
    return file


def test_reads_every_tensor_as_safetensors_itself_does(weights: Path) -> None:
    ours = dict(safetensors_file.read_tensors(weights))
    theirs = load_file(str(weights))
    assert ours.keys() == theirs.keys()
    for name, tensor in theirs.items():
        assert ours[name].dtype == tensor.dtype and ours[name].shape == tensor.shape
        assert torch.equal(ours[name], tensor), name


def test_reads_a_block_of_rows_without_the_rest(weights: Path) -> None:
    entry = next(e for e in safetensors_file.read_header(weights) if e.name == "embed")
    with weights.open("rb", buffering=0) as handle:
        rows = safetensors_file.read_tensor(handle, entry, rows=(2, 5))
        assert torch.equal(rows, torch.arange(24, dtype=torch.float32).reshape(6, 4)[2:5])
        assert safetensors_file.read_tensor(handle, entry, rows=(3, 3)).shape == (0, 4)
        with pytest.raises(safetensors_file.UnreadableTensor, match="no rows 4-7"):
            safetensors_file.read_tensor(handle, entry, rows=(4, 7))


def test_a_truncated_file_is_refused_not_read_as_zeros(weights: Path) -> None:
    data = weights.read_bytes()
    weights.write_bytes(data[:-8])  # the last tensor's bytes are cut short
    with pytest.raises(safetensors_file.UnreadableTensor, match="shorter"):
        dict(safetensors_file.read_tensors(weights))


def test_a_span_that_does_not_hold_its_shape_is_refused(tmp_path: Path) -> None:
    header = b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}'
    file = tmp_path / "bad.safetensors"
    file.write_bytes(struct.pack("<Q", len(header)) + header + bytes(12))
    with pytest.raises(safetensors_file.UnreadableTensor, match="does not hold its shape"):
        dict(safetensors_file.read_tensors(file))


def test_an_unknown_dtype_is_named(tmp_path: Path) -> None:
    header = b'{"w": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}'
    file = tmp_path / "f8.safetensors"
    file.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    with pytest.raises(safetensors_file.UnreadableTensor, match="F8_E4M3"):
        dict(safetensors_file.read_tensors(file))


def test_a_damaged_header_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "junk.safetensors"
    file.write_bytes(struct.pack("<Q", 10) + b"not json!!")
    with pytest.raises(safetensors_file.UnreadableHeader):
        safetensors_file.read_header(file)
