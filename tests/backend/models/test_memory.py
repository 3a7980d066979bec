"""Out-of-memory detection, memory release and batch halving, shared by loading, inference and training."""

from __future__ import annotations

import pytest
import torch

from backend.errors import InsufficientMemoryError
from backend.models import memory


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 79.15 GiB total capacity)"),
        RuntimeError("CUDA error: out of memory"),
        MemoryError(),
    ],
)
def test_out_of_memory_is_recognised_however_it_is_raised(error):
    assert memory.is_out_of_memory(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("shape mismatch"),
        ValueError("bad input"),
        # Already a message for the user: not to be caught and retried again.
        InsufficientMemoryError("The device ran out of memory on a single input."),
    ],
)
def test_other_errors_are_not_mistaken_for_out_of_memory(error):
    assert not memory.is_out_of_memory(error)


def test_a_real_host_allocation_failure_from_torch_is_recognised():
    # 1 PiB: more than any host has, and more than x86-64 can even address.
    with pytest.raises(RuntimeError) as caught:
        torch.empty(2**50, dtype=torch.uint8)
    assert memory.is_out_of_memory(caught.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_cuda_out_of_memory_is_halved_until_it_fits():
    free, _total = torch.cuda.mem_get_info()
    unit = free // 3
    tried = []

    def allocate(size: int) -> int:
        tried.append(size)
        block = torch.empty(size * unit, dtype=torch.uint8, device="cuda")
        del block
        return size

    fitted = memory.halve_on_oom(allocate, 8, lambda e: InsufficientMemoryError("never"))
    assert fitted == 2 and tried == [8, 4, 2]
    memory.free_accelerator_memory()
    assert torch.cuda.memory_reserved() < unit


def test_halving_halves_and_retries_until_the_work_fits():
    tried = []
    retries = []

    def run(size: int) -> str:
        tried.append(size)
        if size > 3:
            raise torch.OutOfMemoryError("CUDA out of memory.")
        return f"done at {size}"

    result = memory.halve_on_oom(run, 16, lambda e: InsufficientMemoryError("never"), retries.append)
    assert result == "done at 2"
    assert tried == [16, 8, 4, 2]
    assert retries == [8, 4, 2]


def test_halving_gives_up_in_words_at_one():
    def run(size: int) -> None:
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(InsufficientMemoryError, match="even one") as caught:
        memory.halve_on_oom(run, 3, lambda e: InsufficientMemoryError("Not even one fits."))
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_halving_lets_other_errors_through_at_once():
    tried = []

    def run(size: int) -> None:
        tried.append(size)
        raise ValueError("broken input")

    with pytest.raises(ValueError, match="broken input"):
        memory.halve_on_oom(run, 8, lambda e: InsufficientMemoryError("never"))
    assert tried == [8]


def test_freeing_memory_empties_the_gpu_cache_when_there_is_one(monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    memory.free_accelerator_memory()
    assert emptied == [True]
