"""Multi-period economic dispatch, the solver-comparison instance: model family ``economic_dispatch``."""
