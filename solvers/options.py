"""Solver options: the common ones every backend takes, and checks of the native ones.

Every backend accepts the **common options** and translates them into its own
names (see :data:`COMMON_OPTIONS`); anything else is a **native option** of
the solver.  Unknown names are refused when the solver is built, with the
closest valid names suggested:

>>> from gridgames.solvers import get_solver
>>> get_solver("highs", time_limt=5)
Traceback (most recent call last):
...
gridgames.solvers.errors.SolverOptionError: solver 'highs': unknown option 'time_limt' (did you mean 'time_limit'?); ...

=============  =====================  ==================  =========================
common         highs                  scip                ipopt / scipy
=============  =====================  ==================  =========================
time_limit     time_limit             limits/time         max_cpu_time / time limit
mip_gap        mip_rel_gap            limits/gap          (no integers) / mip_rel_gap
threads        threads                lp/threads          (serial) / (serial)
=============  =====================  ==================  =========================
"""
from __future__ import annotations

import difflib
import functools
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gridgames.solvers.errors import SolverOptionError

log = logging.getLogger(__name__)

#: The options every backend takes, with what a valid value is.
COMMON_OPTIONS: dict[str, str] = {
    "time_limit": "a time limit in seconds (a number > 0)",
    "mip_gap": "a relative MIP gap (a number >= 0)",
    "threads": "a number of threads (an integer >= 1)",
}

#: Valid names are listed in full up to this many; beyond, only the close matches.
LIST_IN_FULL = 30


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_common_values(solver: str, options: Mapping[str, Any]) -> None:
    """Refuse a common option whose value is not what :data:`COMMON_OPTIONS` says.

    ``None`` means "not set" and is accepted.

    Raises
    ------
    SolverOptionError
    """
    bad = []
    for key, value in options.items():
        if key not in COMMON_OPTIONS or value is None:
            continue
        ok = _is_number(value) and (
            value > 0 if key == "time_limit" else value >= 0 if key == "mip_gap"
            else float(value).is_integer() and value >= 1)
        if not ok:
            bad.append(f"{key}={value!r} (expected {COMMON_OPTIONS[key]})")
    if bad:
        raise SolverOptionError(f"solver '{solver}': invalid value of {', '.join(bad)}")


def unknown_options(solver: str, unknown: Iterable[str], valid: Iterable[str], *, where: str = "") -> SolverOptionError:
    """The error for option names a backend does not know, with suggestions.

    Parameters
    ----------
    solver : str
        Registry name, for the message.
    unknown : iterable of str
        The names refused.
    valid : iterable of str
        Every name the backend takes (common and native).
    where : str
        Where the native names are documented (appended).
    """
    valid = sorted(set(valid))
    parts = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
        parts.append(f"'{name}'" + (f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""))
    if len(valid) <= LIST_IN_FULL:
        listing = f"valid options: {', '.join(valid)}"
    else:
        listing = (f"common options: {', '.join(COMMON_OPTIONS)}; plus {len(valid) - len(COMMON_OPTIONS)} "
                   f"native options{f' ({where})' if where else ''}")
    noun = "option" if len(parts) == 1 else "options"
    return SolverOptionError(f"solver '{solver}': unknown {noun} {', '.join(parts)}; {listing}")


def check_names(solver: str, options: Mapping[str, Any], valid: Iterable[str], *, where: str = "",
                common: bool = True) -> None:
    """Refuse option names outside ``valid`` (and the common options, unless ``common=False``)."""
    valid = set(valid) | (set(COMMON_OPTIONS) if common else set())
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise unknown_options(solver, unknown, valid, where=where)


def probe_values(solver: str, options: Mapping[str, Any], setter: Callable[[str, Any], str | None]) -> None:
    """Let the solver library itself judge each native option's value.

    ``setter(name, value)`` returns None when the value was taken, or the
    library's complaint.
    """
    bad = []
    for key, value in options.items():
        complaint = setter(key, value)
        if complaint:
            bad.append(f"{key}={value!r}: {complaint}")
    if bad:
        raise SolverOptionError(f"solver '{solver}' rejected option value(s): {'; '.join(bad)}")


# ---------------------------------------------------------------------------
# HiGHS and SCIP: native names and values checked against the libraries
# ---------------------------------------------------------------------------
@functools.cache
def highs_option_names() -> frozenset[str]:
    """Every option name of the installed HiGHS (from ``highspy.HighsOptions``)."""
    import highspy

    return frozenset(a for a in dir(highspy.HighsOptions()) if not a.startswith("_"))


@functools.cache
def _highs_probe() -> Any:
    from pyomo.common.tee import capture_output
    import highspy

    with capture_output(capture_fd=True):  # HiGHS prints a banner when created
        probe = highspy.Highs()
        probe.setOptionValue("output_flag", False)
    return probe


def highs_setter(key: str, value: Any) -> str | None:
    """Try ``key = value`` on a HiGHS instance; the complaint, or None."""
    import highspy

    probe = _highs_probe()
    try:
        status = probe.setOptionValue(key, value)
    except (TypeError, ValueError) as exc:
        status, detail = None, str(exc).splitlines()[0]
    else:
        detail = "wrong type or out of range"
    finally:
        probe.resetOptions()
        probe.setOptionValue("output_flag", False)
    return None if status == highspy.HighsStatus.kOk else detail


@functools.cache
def _scip_probe() -> Any:
    import pyscipopt

    return pyscipopt.Model()


@functools.cache
def scip_option_names() -> frozenset[str]:
    """Every parameter name of the installed SCIP."""
    return frozenset(_scip_probe().getParams())


def scip_setter(key: str, value: Any) -> str | None:
    """Try ``key = value`` on a SCIP model; the complaint, or None."""
    from pyomo.common.tee import capture_output

    probe = _scip_probe()
    try:
        with capture_output(capture_fd=True):  # SCIP prints its errors on the C stream
            probe.setParam(key, value)
    except (TypeError, ValueError, KeyError) as exc:
        return str(exc).strip("'") or type(exc).__name__
    finally:
        probe.resetParams()
    return None


__all__ = ["COMMON_OPTIONS", "check_common_values", "check_names", "highs_option_names", "highs_setter",
           "probe_values", "scip_option_names", "scip_setter", "unknown_options"]
