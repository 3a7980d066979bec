"""Choosing models by evidence: side-by-side compare, blind votes with a leaderboard, demo feedback."""
