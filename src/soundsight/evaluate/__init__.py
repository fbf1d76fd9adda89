"""Scores: each evaluator returns a dataclass of scores."""
