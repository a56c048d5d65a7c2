"""The command line's last line of defence: every failure becomes one line and an exit code.

:func:`run_command` is what ``gridgames.cli.main`` calls around a subcommand;
:func:`cli_errors` does the same translation inside one subcommand (and
re-raises our own errors for ``main`` to print).

=======================================  =====  ===========================================
failure                                  exit   printed on stderr
=======================================  =====  ===========================================
our own errors (``GridGamesError``)      1      ``gridgames CMD: error: <message>``
``OSError`` (disk full, read-only ...)   1      ``gridgames CMD: error: <reason>: <file>``
unreachable server (connection errors)   1      ``gridgames CMD: error: cannot connect: ...``
``BrokenPipeError`` (``| head``)         141    nothing (the reader left)
Ctrl-C                                   130    ``interrupted``
=======================================  =====  ===========================================
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

from gridgames.io import describe_os_error
from gridgames.solvers.errors import GridGamesError

#: Exit code after the reader of our output went away (128 + SIGPIPE, as a shell reports it).
EXIT_BROKEN_PIPE = 141
EXIT_INTERRUPTED = 130


class CommandError(GridGamesError):
    """A failure of the environment (disk, network) turned into one line."""


def describe_failure(exc: BaseException) -> str | None:
    """One line for an environment failure, or None when ``exc`` is not one."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return f"cannot connect: {exc}" if str(exc) else f"cannot connect ({type(exc).__name__})"
    if isinstance(exc, OSError):
        text = describe_os_error(exc)
        if exc.errno is None and "connect" in text.lower():  # dask: "Timed out trying to connect to ..."
            return f"cannot connect: {text}"
        return text
    return None


def _silence_stdout() -> None:
    """After a broken pipe, send what is left for stdout to /dev/null (no second error at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured): nothing to redirect
        pass


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Inside a subcommand: ``OSError`` and connection errors become a :class:`CommandError`
    (one line, printed by ``main``); a broken pipe ends the command quietly."""
    try:
        yield
    except BrokenPipeError:
        _silence_stdout()
        raise SystemExit(EXIT_BROKEN_PIPE) from None
    except OSError as exc:
        raise CommandError(describe_failure(exc)) from None


def run_command(args: argparse.Namespace) -> int:
    """Run ``args.func(args)`` and turn every failure into one stderr line and an exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments with ``command`` and ``func``.

    Returns
    -------
    int
        The subcommand's exit code, 1 after an error, 130 after Ctrl-C, 141
        after a broken pipe.

    Examples
    --------
    In ``gridgames.cli.main``, after parsing::

        return run_command(args)
    """
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except GridGamesError as exc:  # our own errors: message only, no traceback
        print(f"gridgames {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"gridgames {args.command}: error: {describe_failure(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


__all__ = ["CommandError", "EXIT_BROKEN_PIPE", "cli_errors", "describe_failure", "run_command"]
