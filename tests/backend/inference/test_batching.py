"""Length-sorted batching and table helpers."""

import pandas as pd
import pytest
import torch

from backend.errors import InsufficientMemoryError, InvalidInputError
from backend.inference import tables
from backend.inference.batching import run_sorted, sorted_batches


def test_sorted_batches_group_similar_sizes_longest_first():
    sizes = [5, 100, 7, 90, 6, 95]
    batches = sorted_batches(sizes, 2)
    assert batches == [[1, 5], [3, 2], [4, 0]]
    assert sorted(i for batch in batches for i in batch) == list(range(len(sizes)))


def test_run_sorted_returns_results_in_input_order_and_reports_progress():
    items = ["ccc", "a", "bbbb", "dd", "eeeee"]
    seen_batches: list[list[str]] = []
    progress: list[tuple[int, int]] = []

    def run_batch(batch):
        seen_batches.append(batch)
        return [item.upper() for item in batch]

    results = run_sorted(
        items, [len(i) for i in items], 2, run_batch, lambda done, total: progress.append((done, total))
    )
    assert results == ["CCC", "A", "BBBB", "DD", "EEEEE"]
    assert seen_batches == [["eeeee", "bbbb"], ["ccc", "dd"], ["a"]]
    assert progress == [(2, 5), (4, 5), (5, 5)]


def test_run_sorted_refuses_a_batch_that_loses_results():
    with pytest.raises(ValueError, match="gave 1 results"):
        run_sorted(["a", "b"], [1, 1], 2, lambda batch: batch[:1])


@pytest.mark.parametrize("size", [0, -1, 257, 2.5, True])
def test_bad_batch_sizes_are_refused(size):
    with pytest.raises(InvalidInputError, match="Batch size"):
        sorted_batches([1, 2], size)


def test_read_text_column_notes_empty_and_long_rows_instead_of_dropping_them():
    frame = pd.DataFrame({"text": ["good", "", None, "x" * 30, "  fine  "], "id": [1, 2, 3, 4, 5]})
    column = tables.read_text_column(frame, "text", max_chars=20)
    assert column.texts == ["good", "fine"]
    assert column.rows == [0, 4]
    assert set(column.notes) == {1, 2, 3}
    assert "over the 20 limit" in column.notes[3]
    output = tables.with_results(frame, column, {"label": ["pos", "neg"]})
    assert list(output.columns) == ["text", "id", "label", "note"]
    labels = output["label"].tolist()
    assert labels[0] == "pos" and labels[4] == "neg"
    assert all(pd.isna(value) for value in labels[1:4])
    assert output["note"].tolist()[0] == "" and output["note"].tolist()[1] == "empty text: skipped"


def test_read_text_column_refuses_missing_or_empty_columns():
    frame = pd.DataFrame({"text": ["", None]})
    with pytest.raises(InvalidInputError, match="no column 'body'"):
        tables.read_text_column(frame, "body", 100)
    with pytest.raises(InvalidInputError, match="no text"):
        tables.read_text_column(frame, "text", 100)


def test_result_columns_never_overwrite_the_users_columns():
    frame = pd.DataFrame({"text": ["a"], "label": ["gold"], "note": ["mine"]})
    column = tables.read_text_column(frame, "text", 10)
    output = tables.with_results(frame, column, {"label": ["pred"]})
    assert output["label"].tolist() == ["gold"]
    assert output["label (result)"].tolist() == ["pred"]
    assert output["note"].tolist() == ["mine"]


def test_a_batch_that_runs_out_of_memory_is_retried_in_halves():
    sizes_tried = []

    def run_batch(batch):
        sizes_tried.append(len(batch))
        if len(batch) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [item * 10 for item in batch]

    assert run_sorted([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], 5, run_batch) == [10, 20, 30, 40, 50]
    # 5 does not fit; the rest of that batch goes in halves (5 // 2 = 2) from there on.
    assert sizes_tried == [5, 2, 2, 1]


def test_a_single_input_that_does_not_fit_is_a_readable_error():
    def run_batch(batch):
        raise torch.OutOfMemoryError("CUDA out of memory.")

    with pytest.raises(InsufficientMemoryError, match="ran out of memory on a single input"):
        run_sorted(["a", "b"], [1, 1], 2, run_batch)


def test_tables_over_the_row_limit_are_refused_with_the_limit():
    frame = pd.DataFrame({"text": ["a"] * 11})
    with pytest.raises(InvalidInputError, match="takes up to 10"):
        tables.read_text_column(frame, "text", 100, max_rows=10)
