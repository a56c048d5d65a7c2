"""Pyomo's persistent HiGHS interface without its per-solve output capture.

``pyomo.contrib.solver.solvers.highs.Highs._solve`` wraps every HiGHS run in
``capture_output(..., capture_fd=True)``: it duplicates the process's stdout
and stderr file descriptors and starts two reader threads, even when nothing
is shown.  On the small problems a best-response sweep re-solves thousands of
times that costs more than HiGHS itself (measured: 20 Cournot firms, 2,020
best responses, 3.1 ms per response, of which ~1.5 ms was the capture).

:class:`QuietHighs` runs HiGHS with its console log off and no capture when
``tee`` is off, and builds a new HiGHS instance with only its banner sent
to ``/dev/null``; with ``tee`` on (or a Pyomo whose interface lacks the
pieces used here) it is Pyomo's own ``_solve`` and ``set_instance``.  Results, options, time limits and
Ctrl-C handling are the same.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator

import highspy
from pyomo.contrib.solver.solvers.highs import Highs


@contextlib.contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    """File descriptor 1 sent to ``/dev/null`` for a moment (HiGHS prints its banner from C++ when an
    instance is created); a few microseconds, where Pyomo's capture starts two threads."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


class QuietHighs(Highs):
    """:class:`pyomo.contrib.solver.solvers.highs.Highs` that does not capture output it would not show."""

    def set_instance(self, model):
        parts = ("_reinit", "add_block", "set_objective", "_last_results_object")
        if self._active_config.tee or not all(hasattr(self, p) for p in parts):
            return super().set_instance(model)
        if self._last_results_object is not None:
            self._last_results_object.solution_loader.invalidate()
        if not self.available():
            return super().set_instance(model)   # Pyomo's own error
        self._reinit()
        self._model = model
        with _stdout_to_devnull():
            self._solver_model = highspy.Highs()
        self._solver_model.setOptionValue("log_to_console", False)
        self.add_block(model)
        if self._objective is None:
            self.set_objective(None)

    def _solve(self):
        config = self._active_config
        highs = getattr(self, "_solver_model", None)
        if config.tee or highs is None or not hasattr(self, "_postsolve"):
            return super()._solve()
        highs.setOptionValue("log_to_console", False)
        settings = {"threads": config.threads, "time_limit": config.time_limit,
                    "mip_rel_gap": config.rel_gap, "mip_abs_gap": config.abs_gap}
        for key, value in settings.items():
            if value is not None:
                highs.setOptionValue(key, value)
        for key, value in config.solver_options.items():
            highs.setOptionValue(key, value)
        if hasattr(highs, "HandleKeyboardInterrupt"):
            highs.HandleKeyboardInterrupt = True
        config.timer.start("optimize")
        try:
            highs.run()
        finally:
            config.timer.stop("optimize")
        return self._postsolve(io.StringIO())
