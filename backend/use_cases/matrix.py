"""The industry x AI-task matrix: how many catalogue use cases of each industry need each task."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from backend.use_cases import vocabulary as vocab
from backend.use_cases.catalogue import UseCase


@dataclass(frozen=True)
class TaskMatrix:
    """Counts per (industry, task), rows and columns in vocabulary order, with the ids behind each cell."""

    industries: tuple[str, ...]
    tasks: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    cell_use_cases: tuple[tuple[tuple[str, ...], ...], ...]

    @property
    def is_empty(self) -> bool:
        """True when no use case contributes to any cell."""
        return not self.industries or not self.tasks

    def count(self, industry: str, task: str) -> int:
        """The count of one cell (0 for an industry or task not in the matrix)."""
        if industry not in self.industries or task not in self.tasks:
            return 0
        return self.counts[self.industries.index(industry)][self.tasks.index(task)]

    def use_cases_in(self, industry: str, task: str) -> tuple[str, ...]:
        """The ids of the use cases counted in one cell."""
        if industry not in self.industries or task not in self.tasks:
            return ()
        return self.cell_use_cases[self.industries.index(industry)][self.tasks.index(task)]

    def to_frame(self, language: str = "en") -> pd.DataFrame:
        """Counts as a table: industry labels as the index, task labels as columns."""
        return pd.DataFrame(
            [list(row) for row in self.counts],
            index=[vocab.find_term(vocab.INDUSTRIES, key).label(language) for key in self.industries],
            columns=[vocab.find_term(vocab.AI_TASKS, key).label(language) for key in self.tasks],
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return {
            "industries": list(self.industries),
            "tasks": list(self.tasks),
            "counts": [list(row) for row in self.counts],
            "cell_use_cases": [[list(cell) for cell in row] for row in self.cell_use_cases],
        }


def build_task_matrix(
    use_cases: Iterable[UseCase],
    include_inferred: bool = True,
    keep_empty: bool = False,
) -> TaskMatrix:
    """Count use cases per industry and AI task.

    Args:
        use_cases: the (already filtered) use cases to count.
        include_inferred: also count tasks the catalogue's editors mapped, not only tasks the
            documents name.
        keep_empty: keep every vocabulary industry and task, even those with no use case;
            by default rows and columns that are all zero are dropped.

    Returns:
        The matrix, rows and columns in vocabulary order.
    """
    cells: dict[tuple[str, str], list[str]] = {}
    for use_case in use_cases:
        if use_case.task_basis == vocab.INFERRED and not include_inferred:
            continue
        for task in use_case.tasks:
            cells.setdefault((use_case.industry, task), []).append(use_case.id)
    industries = [
        key for key in vocab.term_keys(vocab.INDUSTRIES) if keep_empty or any(cell[0] == key for cell in cells)
    ]
    tasks = [key for key in vocab.term_keys(vocab.AI_TASKS) if keep_empty or any(cell[1] == key for cell in cells)]
    ids = tuple(tuple(tuple(cells.get((industry, task), ())) for task in tasks) for industry in industries)
    counts = tuple(tuple(len(cell) for cell in row) for row in ids)
    return TaskMatrix(tuple(industries), tuple(tasks), counts, ids)


def maturity_counts(use_cases: Iterable[UseCase]) -> dict[str, dict[str, int]]:
    """Use cases per industry and maturity: ``{industry: {"C": n, "F": n, "T": n}}``, vocabulary order."""
    counts: dict[str, dict[str, int]] = {}
    for use_case in use_cases:
        row = counts.setdefault(use_case.industry, {key: 0 for key in vocab.term_keys(vocab.MATURITY)})
        row[use_case.maturity] += 1
    return {key: counts[key] for key in vocab.term_keys(vocab.INDUSTRIES) if key in counts}
