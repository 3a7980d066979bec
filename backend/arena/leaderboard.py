"""A task's leaderboard from its blind votes: Bradley-Terry scores with bootstrap 95% intervals,
how many votes each model has, and which models have too few to be ranked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backend.arena import stats
from backend.arena.store import A_BETTER, B_BETTER, Vote
from backend.records import JsonRecord

# Below this many votes a model's interval spans most of the board (a few hundred points), so a
# rank would be noise: the board lists it with its count and says it is not ranked yet.
MIN_VOTES_TO_RANK = 10


@dataclass(frozen=True)
class Standing(JsonRecord):
    """One model's row: its score and interval, its votes (wins, losses, ties) and rank (0: too few
    votes to rank; models whose intervals overlap share a rank)."""

    model: str
    score: float
    low: float
    high: float
    votes: int
    wins: int
    losses: int
    ties: int
    rank: int

    @property
    def ranked(self) -> bool:
        """Whether the model has at least ``MIN_VOTES_TO_RANK`` votes."""
        return self.rank > 0


def comparisons(votes: Sequence[Vote]) -> list[stats.Comparison]:
    """Each vote as a Bradley-Terry comparison; a tie and "both are bad" count as half a win each
    way (as Chatbot Arena counts both kinds of tie)."""
    outcome = {A_BETTER: 1.0, B_BETTER: 0.0}
    return [stats.Comparison(vote.model_a, vote.model_b, outcome.get(vote.verdict, 0.5)) for vote in votes]


def build_leaderboard(votes: Sequence[Vote], samples: int = stats.BOOTSTRAP_SAMPLES) -> list[Standing]:
    """Ranked models first (by score), then the unranked ones (by votes)."""
    estimates = stats.bradley_terry_intervals(comparisons(votes), samples)
    tally: dict[str, list[int]] = {model: [0, 0, 0] for model in estimates}
    for vote in votes:
        if vote.verdict == A_BETTER:
            tally[vote.model_a][0] += 1
            tally[vote.model_b][1] += 1
        elif vote.verdict == B_BETTER:
            tally[vote.model_b][0] += 1
            tally[vote.model_a][1] += 1
        else:
            tally[vote.model_a][2] += 1
            tally[vote.model_b][2] += 1
    rows = [(model, estimate, sum(tally[model]), *tally[model]) for model, estimate in estimates.items()]
    ranked = sorted((row for row in rows if row[2] >= MIN_VOTES_TO_RANK), key=lambda row: -row[1].value)
    unranked = sorted((row for row in rows if row[2] < MIN_VOTES_TO_RANK), key=lambda row: (-row[2], row[0]))
    standings = []
    for model, estimate, count, wins, losses, ties in ranked:
        # As Chatbot Arena ranks: one plus the models surely better (their whole interval above this
        # one's), so models whose intervals overlap share a rank instead of a noisy order.
        rank = 1 + sum(1 for other in ranked if other[1].low > estimate.high)
        standings.append(Standing(model, estimate.value, estimate.low, estimate.high, count, wins, losses, ties, rank))
    for model, estimate, count, wins, losses, ties in unranked:
        standings.append(Standing(model, estimate.value, estimate.low, estimate.high, count, wins, losses, ties, 0))
    return standings
