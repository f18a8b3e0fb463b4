"""Parameter space: lists (grid), numeric ranges, fixed values and boolean flags, as Optuna distributions."""

from .space import Dimension, Space, build_space, params_key

__all__ = ["Dimension", "Space", "build_space", "params_key"]
