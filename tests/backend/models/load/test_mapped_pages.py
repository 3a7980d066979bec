"""Finding a memory-mapped tensor's bytes in its file, and refusing when the file would lie."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import safe_open, save_file

from backend.models import safetensors_file
from backend.models.load import mapped_pages


def _mapped(tmp_path, values: torch.Tensor) -> tuple[torch.Tensor, str]:
    path = tmp_path / "weights.safetensors"
    save_file({"weight": values}, path)
    with safe_open(path, framework="pt") as handle:
        return handle.get_tensor("weight"), str(path)


def _read(span: mapped_pages.FileSpan, like: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(like)
    with open(span.path, "rb", buffering=0) as handle:
        safetensors_file.read_span(handle, span.offset, out)
    return out


def test_a_mapped_tensor_is_found_in_its_file_without_reading_the_mapping(tmp_path):
    values = torch.randn(300, 700)
    tensor, path = _mapped(tmp_path, values)
    span = mapped_pages.MappedFiles().span_of(tensor)
    assert span is not None and span.path == path and span.size == values.numel() * 4
    assert torch.equal(_read(span, values), values)
    # A row in the middle: its own offset in the same file.
    row = mapped_pages.MappedFiles().span_of(tensor[150])
    assert row is not None and row.offset == span.offset + 150 * 700 * 4
    assert torch.equal(_read(row, values[150]), values[150])


def test_memory_of_its_own_is_not_a_file(tmp_path):
    assert mapped_pages.MappedFiles().span_of(torch.randn(100, 100)) is None
    tensor, _ = _mapped(tmp_path, torch.randn(64, 64))
    assert mapped_pages.MappedFiles().span_of(tensor.t()) is None  # not contiguous


def test_a_written_page_of_a_private_mapping_no_longer_matches_the_file(tmp_path):
    values = torch.randn(4096, 16)  # 64 pages
    tensor, _ = _mapped(tmp_path, values)
    files = mapped_pages.MappedFiles()
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
    assert mapped_pages.MappedFiles(stale).span_of(tensor) is None  # another inode at that path
    deleted = f"{start}-{end} {fields[1]} {fields[2]} {fields[3]} {fields[4]} {path} (deleted)\n"
    assert mapped_pages.MappedFiles(deleted).span_of(tensor) is None
    assert mapped_pages.MappedFiles(region).span_of(tensor) is not None


def _present_pages(tensor: torch.Tensor) -> int:
    page = mapped_pages._PAGE
    first = tensor.data_ptr() // page
    count = (tensor.data_ptr() + tensor.numel() * tensor.element_size() - 1) // page - first + 1
    with open("/proc/self/pagemap", "rb", buffering=0) as handle:
        handle.seek(first * 8)
        entries = handle.read(count * 8)
    return sum(int.from_bytes(entries[i : i + 8], "little") >> 63 for i in range(0, len(entries), 8))


def test_dropped_pages_leave_the_process_and_the_values_read_back_unchanged(tmp_path):
    values = torch.randn(4096, 16)  # 64 pages
    tensor, _ = _mapped(tmp_path, values)
    assert torch.equal(tensor, values)  # every page read: resident now
    assert _present_pages(tensor) >= 64
    # Half of it: the pages wholly inside go; the one it shares with the other half stays.
    half = tensor[1000:3000]
    mapped_pages.drop_resident_pages(half)
    assert _present_pages(half) <= 2
    assert _present_pages(tensor[:900]) >= 900 * 16 * 4 // mapped_pages._PAGE
    assert torch.equal(tensor, values)  # mapped again from the file


def test_a_neighbours_written_page_is_never_dropped(tmp_path):
    values = torch.randn(4096, 16)
    tensor, _ = _mapped(tmp_path, values)
    tensor[999, 0] = 7.0  # on the page the next rows start on: that page is the process's own
    mapped_pages.drop_resident_pages(tensor[1000:3000])
    assert tensor[999, 0] == 7.0
    assert torch.equal(tensor[1000:], values[1000:])
