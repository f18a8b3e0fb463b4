"""Search strategies on Optuna: grid, random, TPE (bayesian)."""

from .strategies import make_sampler, open_study

__all__ = ["make_sampler", "open_study"]
