"""Spoken Shapes: the synthetic world of shared/specs/spoken-shapes.md."""
