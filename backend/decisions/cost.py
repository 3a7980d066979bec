"""The cost and capacity calculator: what serving one use case's model costs at a typed price.

From one speed figure (``speed.SpeedRecord``: measured here, recorded by the benchmark, or an
estimate, always said which): one machine serving requests one at a time handles
``throughput x 3600`` requests an hour; a demand of D requests an hour needs ceil(D / capacity)
such machines; 1,000 requests cost ``price per hour / requests per hour x 1000``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from backend.decisions.speed import SpeedRecord
from backend.errors import InvalidInputError
from backend.i18n import _
from backend.records import JsonRecord

MAX_PRICE_PER_HOUR = 1_000_000.0
MAX_DEMAND_PER_HOUR = 10**12


@dataclass(frozen=True)
class CostEstimate(JsonRecord):
    """Capacity and cost of one task model on one machine, with the figure's provenance."""

    task: str
    model: str
    requests_per_hour: float
    latency_p95_ms: float
    price_per_hour: float
    cost_per_1000: float
    machines: int
    cost_per_hour_at_demand: float
    demand_per_hour: int
    device: str
    machine: str
    measured_at: str
    origin: str
    provenance: str


def check_price(price_per_hour: float) -> float:
    """The price per machine-hour, or InvalidInputError saying what is wrong.

    Raises:
        InvalidInputError: not a number, negative, or implausibly large.
    """
    try:
        price = float(price_per_hour)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(_("The price per hour must be a number, e.g. 0.40.")) from error
    if not math.isfinite(price) or price < 0 or price > MAX_PRICE_PER_HOUR:
        raise InvalidInputError(
            _("The price per hour must be from 0 to {limit:,.0f}.").format(limit=MAX_PRICE_PER_HOUR)
        )
    return price


def cost_of(record: SpeedRecord, price_per_hour: float, demand_per_hour: int = 0) -> CostEstimate:
    """Requests per hour, p95 latency and cost per 1,000 requests of ``record`` at ``price_per_hour``.

    Args:
        record: the task model's speed figure.
        price_per_hour: what one machine costs an hour (any currency; the result is in the same).
        demand_per_hour: requests an hour to serve (0: no demand given, one machine).

    Raises:
        InvalidInputError: a bad price or demand, or a figure with no throughput.
    """
    price = check_price(price_per_hour)
    if not isinstance(demand_per_hour, int) or not 0 <= demand_per_hour <= MAX_DEMAND_PER_HOUR:
        raise InvalidInputError(_("The demand must be a whole number of requests per hour, 0 or more."))
    if record.throughput <= 0:
        raise InvalidInputError(_("This figure has no throughput; measure the use case again."))
    per_hour = record.throughput * 3600
    machines = max(1, math.ceil(demand_per_hour / per_hour)) if demand_per_hour else 1
    return CostEstimate(
        task=record.task,
        model=record.model,
        requests_per_hour=per_hour,
        latency_p95_ms=record.latency_p95_ms,
        price_per_hour=price,
        cost_per_1000=price / per_hour * 1000,
        machines=machines,
        cost_per_hour_at_demand=machines * price,
        demand_per_hour=demand_per_hour,
        device=record.device,
        machine=record.machine,
        measured_at=record.measured_at,
        origin=record.origin,
        provenance=record.provenance(),
    )
