"""Length-sorted batching: similar-length inputs share a batch, so little compute goes to padding.

Results come back in the caller's order whatever order the batches ran in. A batch that runs
out of memory is retried in halves (``backend.models.memory.halve_on_oom``), so a too-large batch
size slows a run down instead of failing it; only a single input that does not fit is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from backend.errors import InsufficientMemoryError
from backend.i18n import _
from backend.models.memory import halve_on_oom
from backend.uploads import check_whole_number

Item = TypeVar("Item")
Result = TypeVar("Result")
# Called after each batch with (items done, items in all); the pages drive a progress bar with it.
ProgressCallback = Callable[[int, int], None]

MAX_BATCH_SIZE = 256


def check_batch_size(batch_size: int) -> int:
    """Refuse a batch size outside 1..MAX_BATCH_SIZE."""
    message = _("Batch size must be a whole number from 1 to {MAX_BATCH_SIZE}; got {batch_size!r}.")
    return check_whole_number(
        batch_size, 1, MAX_BATCH_SIZE, message.format(MAX_BATCH_SIZE=MAX_BATCH_SIZE, batch_size=batch_size)
    )


def sorted_batches(sizes: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices of the inputs grouped into batches of similar size, longest first.

    Longest first means a batch too large for memory fails at once rather than at the end.

    Args:
        sizes: one size per input (characters, tokens or pixels).
        batch_size: most inputs per batch.

    Returns:
        Lists of indices into ``sizes``; every index appears exactly once.
    """
    check_batch_size(batch_size)
    order = sorted(range(len(sizes)), key=lambda index: (-sizes[index], index))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def _give_up(_error: BaseException) -> InsufficientMemoryError:
    return InsufficientMemoryError(
        _("The device ran out of memory on a single input."),
        _("Shorten the input, pick a smaller model, or run on a machine with more memory."),
    )


def _run_halving_on_oom(batch: list[Item], run_batch: Callable[[list[Item]], list[Result]]) -> list[Result]:
    """``run_batch`` over ``batch``; after out-of-memory, the inputs not yet done go in halves."""
    results: list[Result] = []

    def run_rest(size: int) -> list[Result]:
        while len(results) < len(batch):
            chunk = batch[len(results) : len(results) + size]
            outputs = run_batch(chunk)
            if len(outputs) != len(chunk):
                raise ValueError(f"a batch of {len(chunk)} inputs gave {len(outputs)} results")
            results.extend(outputs)
        return results

    return halve_on_oom(run_rest, len(batch), _give_up)


def run_sorted(
    items: Sequence[Item],
    sizes: Sequence[int],
    batch_size: int,
    run_batch: Callable[[list[Item]], list[Result]],
    progress: ProgressCallback | None = None,
) -> list[Result]:
    """Run ``run_batch`` over size-sorted batches of ``items``; results in the input order.

    Args:
        items: the inputs.
        sizes: one size per input, used only for ordering.
        batch_size: most inputs per call of ``run_batch``.
        run_batch: maps a list of inputs to a list of results of the same length.
        progress: called after each batch with (done, total).
    """
    if len(items) != len(sizes):
        raise ValueError("items and sizes differ in length")
    results: list[Result | None] = [None] * len(items)
    done = 0
    for indices in sorted_batches(sizes, batch_size):
        outputs = _run_halving_on_oom([items[index] for index in indices], run_batch)
        for index, output in zip(indices, outputs, strict=True):
            results[index] = output
        done += len(indices)
        if progress is not None:
            progress(done, len(items))
    return results  # type: ignore[return-value]
