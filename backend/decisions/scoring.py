"""The use-case prioritiser: industries x use cases scored from cited market figures and this
server's measured feasibility, with weights the user sets, and how the top five move with one weight.

Normalisation, stated once here and shown on the page:

- **Market inputs** (adoption level, adoption growth, money flowing in): min-max over the
  industries that have the figure: the lowest becomes 0, the highest 1 (all equal: 1).
- **Feasibility**: the mean of three parts, each already 0-1: latency (the use case's slowest
  task's p95, min-max on a log scale over the use cases with figures, fastest = 1), memory (its
  tasks' peak memory added up, the same way, smallest = 1) and CPU (1 when every figure was
  taken on a CPU, else 0). A use case needs a figure for every task it names, else it has none.
- **Missing input**: counts as 0 (no evidence earns no points) and is shown as missing.
- **Score** = sum(weight x normalised input) / sum(weights), times 100; ties keep catalogue order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace

from backend import model_registry
from backend.decisions.industry_inputs import INPUT_LABELS, MARKET_INPUTS, IndustryInputs
from backend.decisions.speed import SpeedRecord
from backend.errors import InvalidInputError
from backend.i18n import N_, _, current_language
from backend.models.resolve import catalogue as models
from backend.records import JsonRecord
from backend.use_cases import vocabulary as vocab
from backend.use_cases.catalogue import UseCase

FEASIBILITY = "feasibility"
CRITERIA: tuple[str, ...] = (*MARKET_INPUTS, FEASIBILITY)
CRITERION_LABELS: dict[str, str] = {**INPUT_LABELS, FEASIBILITY: N_("Feasibility here")}
WEIGHT_RANGE: tuple[int, int] = (0, 10)
TOP = 5
# The catalogue's AI tasks that a demo's model performs, and the model task that stands for each.
# Classification of any text is the sentiment demo's model shape (a sequence classifier); question
# answering and summarisation are asked of the chat model. Every other task has no model here.
TASK_MODELS: dict[str, str] = {
    "sentiment-analysis": models.SENTIMENT,
    "text-classification": models.SENTIMENT,
    "translation": models.TRANSLATION,
    "text-generation": models.TEXT_GENERATION,
    "question-answering": models.TEXT_GENERATION,
    "summarization": models.TEXT_GENERATION,
    "image-classification": models.IMAGE_CLASSIFICATION,
}


@dataclass(frozen=True)
class Weights(JsonRecord):
    """How much each criterion counts, whole numbers 0-10."""

    adoption: int = 3
    growth: int = 2
    investment: int = 2
    feasibility: int = 3

    def of(self, criterion: str) -> int:
        """The weight of one criterion."""
        return int(getattr(self, criterion))

    def with_weight(self, criterion: str, value: int) -> Weights:
        """These weights with one changed."""
        return replace(self, **{criterion: value})

    def checked(self) -> Weights:
        """These weights, or InvalidInputError saying which one is out of range.

        Raises:
            InvalidInputError: a weight is not a whole number in 0-10, or all are 0.
        """
        low, high = WEIGHT_RANGE
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InvalidInputError(
                    _("The weight of {name} must be a whole number from {low} to {high}.").format(
                        name=_(CRITERION_LABELS[item.name]), low=low, high=high
                    )
                )
        if not any(getattr(self, item.name) for item in fields(self)):
            raise InvalidInputError(_("At least one weight must be above 0."))
        return self


@dataclass(frozen=True)
class ScoredInput(JsonRecord):
    """One input of one use case: its raw value and unit, its 0-1 value, and where it comes from."""

    criterion: str
    raw: float | None
    unit: str
    normalised: float
    evidence: str
    url: str = ""
    missing_reason: str = ""


@dataclass(frozen=True)
class ScoredUseCase(JsonRecord):
    """One ranked use case: its inputs, its score (0-100) and its rank (1 = first)."""

    use_case_id: str
    industry: str
    title_en: str
    title_zh: str
    inputs: tuple[ScoredInput, ...]
    score: float
    rank: int

    def title(self, language: str = "en") -> str:
        """The title in ``language``."""
        return self.title_zh if language == "zh" else self.title_en

    def input(self, criterion: str) -> ScoredInput:
        """The input of one criterion."""
        return next(item for item in self.inputs if item.criterion == criterion)


@dataclass(frozen=True)
class Ranking(JsonRecord):
    """The ranked use cases and the weights that ranked them."""

    weights: Weights
    rows: tuple[ScoredUseCase, ...]

    def top(self, count: int = TOP) -> tuple[str, ...]:
        """The ids of the first ``count`` use cases."""
        return tuple(row.use_case_id for row in self.rows[:count])


@dataclass(frozen=True)
class Feasibility(JsonRecord):
    """A use case's measured figures: the slowest task's p95, the memory of all its tasks, CPU-only."""

    p95_ms: float
    memory_mb: float
    on_cpu: bool
    evidence: str


@dataclass(frozen=True)
class Sensitivity(JsonRecord):
    """How the top five change as one weight moves across its range, the others held."""

    criterion: str
    weights: Weights
    values: tuple[int, ...]
    tops: tuple[tuple[str, ...], ...]
    ranks: dict[str, tuple[int, ...]] = field(default_factory=dict)


def min_max(values: Mapping[str, float], log: bool = False, lower_is_better: bool = False) -> dict[str, float]:
    """Each value scaled to 0-1 over ``values`` (the best becomes 1); all equal: every one is 1."""
    scaled = {key: math.log10(value) if log else value for key, value in values.items()}
    if not scaled:
        return {}
    low, high = min(scaled.values()), max(scaled.values())
    if high == low:
        return dict.fromkeys(scaled, 1.0)
    share = {key: (value - low) / (high - low) for key, value in scaled.items()}
    return {key: 1 - value if lower_is_better else value for key, value in share.items()}


def feasibility_of(use_case: UseCase, speed: Mapping[str, SpeedRecord]) -> Feasibility | str:
    """The use case's measured figures, or why it has none (a task without a model or a figure)."""
    if not use_case.tasks:
        return _("the documents name no AI task")
    model_tasks = []
    for task in use_case.tasks:
        if task not in TASK_MODELS:
            return _("no model here for {task}").format(
                task=vocab.find_term(vocab.AI_TASKS, task).label(current_language())
            )
        model_tasks.append(TASK_MODELS[task])
    missing = [task for task in dict.fromkeys(model_tasks) if task not in speed]
    if missing:
        return _("not measured yet: {tasks}").format(tasks=_(", ").join(models.task_title(task) for task in missing))
    records = [speed[task] for task in dict.fromkeys(model_tasks)]
    evidence = _("; ").join(
        _("{task} ({model}) p95 {p95:g} ms, {memory:g} MB ({source})").format(
            task=models.task_title(record.task),
            model=model_registry.display_name(record.model),
            p95=record.latency_p95_ms,
            memory=record.peak_memory_mb,
            source=record.provenance(),
        )
        for record in records
    )
    return Feasibility(
        p95_ms=max(record.latency_p95_ms for record in records),
        memory_mb=sum(record.peak_memory_mb for record in records),
        on_cpu=all(record.runs_on_cpu for record in records),
        evidence=evidence,
    )


def model_tasks_of(use_case: UseCase) -> tuple[str, ...] | None:
    """The demo model tasks a use case's AI tasks run on (each once), or None when one has no model here."""
    if not use_case.tasks or any(task not in TASK_MODELS for task in use_case.tasks):
        return None
    return tuple(dict.fromkeys(TASK_MODELS[task] for task in use_case.tasks))


def _market_inputs(industries: Mapping[str, IndustryInputs]) -> dict[str, dict[str, float]]:
    """Each market criterion's normalised value per industry (only industries with the figure)."""
    normalised = {}
    for criterion in MARKET_INPUTS:
        values = {key: figure.value for key, row in industries.items() if (figure := row.figure(criterion))}
        normalised[criterion] = min_max(values)
    return normalised


def _feasibility_scores(found: Mapping[str, Feasibility]) -> dict[str, float]:
    # A p95 or memory of 0 would break the log scale; no real run takes no time or memory.
    latency = min_max({key: max(f.p95_ms, 1e-3) for key, f in found.items()}, log=True, lower_is_better=True)
    memory = min_max({key: max(f.memory_mb, 1e-3) for key, f in found.items()}, log=True, lower_is_better=True)
    return {key: (latency[key] + memory[key] + float(f.on_cpu)) / 3 for key, f in found.items()}


def _market_input(criterion: str, use_case: UseCase, industries, normalised) -> ScoredInput:
    row = industries.get(use_case.industry)
    figure = row.figure(criterion) if row else None
    if figure is None:
        reason = (
            row.missing_reasons.get(criterion, _("no source measures this industry"))
            if row
            else _("a technology area, not an industry: no market figure")
        )
        return ScoredInput(criterion, None, "", 0.0, "", missing_reason=reason)
    evidence = figure.citation() + (f" ({figure.caveat})" if figure.caveat else "")
    return ScoredInput(
        criterion, figure.value, figure.unit, normalised[criterion][use_case.industry], evidence, figure.url
    )


def rank_use_cases(
    use_cases: Iterable[UseCase],
    industries: Mapping[str, IndustryInputs],
    speed: Mapping[str, SpeedRecord],
    weights: Weights,
) -> Ranking:
    """Score and rank the use cases.

    Args:
        use_cases: the catalogue's use cases (already filtered), in catalogue order.
        industries: ``industry_inputs.industry_inputs(frame)``.
        speed: each model task's figure (``speed.speed_by_task``).
        weights: the user's weights (checked here).

    Raises:
        InvalidInputError: a weight is out of range, or all are 0.
    """
    weights = weights.checked()
    use_cases = tuple(use_cases)
    normalised = _market_inputs(industries)
    measured = {u.id: feasibility_of(u, speed) for u in use_cases}
    found = {key: value for key, value in measured.items() if isinstance(value, Feasibility)}
    feasible = _feasibility_scores(found)
    total = sum(weights.of(c) for c in CRITERIA)
    scored = []
    for use_case in use_cases:
        inputs = [_market_input(c, use_case, industries, normalised) for c in MARKET_INPUTS]
        figure = measured[use_case.id]
        if isinstance(figure, Feasibility):
            summary = _("p95 {p95:g} ms, {memory:g} MB, {where}").format(
                p95=figure.p95_ms, memory=figure.memory_mb, where=_("CPU") if figure.on_cpu else _("accelerator")
            )
            inputs.append(
                ScoredInput(FEASIBILITY, feasible[use_case.id], summary, feasible[use_case.id], figure.evidence)
            )
        else:
            inputs.append(ScoredInput(FEASIBILITY, None, "", 0.0, "", missing_reason=figure))
        score = 100 * sum(weights.of(item.criterion) * item.normalised for item in inputs) / total
        scored.append((use_case, tuple(inputs), round(score, 2)))
    ordered = sorted(enumerate(scored), key=lambda pair: (-pair[1][2], pair[0]))
    rows = tuple(
        ScoredUseCase(u.id, u.industry, u.title_en, u.title_zh, inputs, score, rank)
        for rank, (_position, (u, inputs, score)) in enumerate(ordered, start=1)
    )
    return Ranking(weights, rows)


def sensitivity(
    use_cases: Iterable[UseCase],
    industries: Mapping[str, IndustryInputs],
    speed: Mapping[str, SpeedRecord],
    weights: Weights,
    criterion: str,
) -> Sensitivity:
    """The top five at each value of one weight (0-10), the other weights as given.

    ``ranks`` gives, for every use case that is ever in the top five, its rank at each value.
    A setting where every weight is 0 has no ranking; its top five is empty.
    """
    if criterion not in CRITERIA:
        raise InvalidInputError(_("Unknown criterion {name!r}.").format(name=criterion))
    use_cases = tuple(use_cases)
    values = tuple(range(WEIGHT_RANGE[0], WEIGHT_RANGE[1] + 1))
    rankings: list[Ranking | None] = []
    for value in values:
        moved = weights.with_weight(criterion, value)
        rankings.append(
            rank_use_cases(use_cases, industries, speed, moved) if any(moved.of(c) for c in CRITERIA) else None
        )
    tops = tuple(ranking.top() if ranking else () for ranking in rankings)
    ever = list(dict.fromkeys(use_case for top in tops for use_case in top))
    ranks = {
        key: tuple(
            next(row.rank for row in ranking.rows if row.use_case_id == key) if ranking else 0 for ranking in rankings
        )
        for key in ever
    }
    return Sensitivity(criterion, weights, values, tops, ranks)
