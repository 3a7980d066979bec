"""Finding a memory-mapped tensor's bytes in its file, and refusing when the file would lie."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import safe_open, save_file

from backend.models import mapped_weights


def _mapped(tmp_path, values: torch.Tensor) -> tuple[torch.Tensor, str]:
    path = tmp_path / "weights.safetensors"
    save_file({"weight": values}, path)
    with safe_open(path, framework="pt") as handle:
        return handle.get_tensor("weight"), str(path)


def _read(span: mapped_weights.FileSpan, like: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(like)
    with open(span.path, "rb", buffering=0) as handle:
        mapped_weights.read_into(handle, span.offset, out)
    return out


def test_a_mapped_tensor_is_found_in_its_file_without_reading_the_mapping(tmp_path):
    values = torch.randn(300, 700)
    tensor, path = _mapped(tmp_path, values)
    span = mapped_weights.MappedFiles().span_of(tensor)
    assert span is not None and span.path == path and span.size == values.numel() * 4
    assert torch.equal(_read(span, values), values)
    # A row in the middle: its own offset in the same file.
    row = mapped_weights.MappedFiles().span_of(tensor[150])
    assert row is not None and row.offset == span.offset + 150 * 700 * 4
    assert torch.equal(_read(row, values[150]), values[150])


def test_memory_of_its_own_is_not_a_file(tmp_path):
    assert mapped_weights.MappedFiles().span_of(torch.randn(100, 100)) is None
    tensor, _ = _mapped(tmp_path, torch.randn(64, 64))
    assert mapped_weights.MappedFiles().span_of(tensor.t()) is None  # not contiguous


def test_a_written_page_of_a_private_mapping_no_longer_matches_the_file(tmp_path):
    values = torch.randn(4096, 16)  # 64 pages
    tensor, _ = _mapped(tmp_path, values)
    files = mapped_weights.MappedFiles()
    assert files.span_of(tensor) is not None
    tensor[2000, 3] += 1.0  # copy-on-write: that page is the process's own from now on
    assert files.span_of(tensor) is None
    # Rows on other pages still read true from the file.
    assert files.span_of(tensor[:1000]) is not None


def test_a_replaced_or_deleted_file_is_not_read(tmp_path):
    tensor, path = _mapped(tmp_path, torch.randn(256, 256))
    maps = Path("/proc/self/maps").read_text().splitlines(keepends=True)
    region = next(line for line in maps if line.rstrip().endswith(path))
    start, end = region.split()[0].split("-")
    fields = region.split()
    stale = f"{start}-{end} {fields[1]} {fields[2]} {fields[3]} {int(fields[4]) + 1} {path}\n"
    assert mapped_weights.MappedFiles(stale).span_of(tensor) is None  # another inode at that path
    deleted = f"{start}-{end} {fields[1]} {fields[2]} {fields[3]} {fields[4]} {path} (deleted)\n"
    assert mapped_weights.MappedFiles(deleted).span_of(tensor) is None
    assert mapped_weights.MappedFiles(region).span_of(tensor) is not None
