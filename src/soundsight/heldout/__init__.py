"""Generators kept out of every training run: evaluation stand-ins for data made by someone else."""
