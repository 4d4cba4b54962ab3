"""One error policy for every entry point: a user's mistake is one line on stderr and exit
status 2 (a full disk, a read-only folder or a refused permission included); a bug keeps its
traceback; ``NN_DEBUG=1`` shows the traceback in both cases. A command's layer may add the errors it knows to be the user's (``explain``)."""

import argparse
import os
import sys
from collections.abc import Callable

from plumbing.files import OutputError, disk_fault


class UserError(Exception):
    """A mistake in the command, its config or its files: reported in one line."""


class Stopped(Exception):
    """A run stopped by a signal: one line saying how to go on, and the shell's exit status for
    that signal (128 + its number: 130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.status = 128 + signum


def run_main(
    body: Callable[[], int],
    mistakes: tuple[type[Exception], ...] = (),
    explain: Callable[[Exception], str | None] | None = None,
) -> int:
    """Run an entry point's body under the policy above; its return value is the exit status.
    ``mistakes``: more exception types that mean bad input; ``explain``: the one line for other
    errors a layer recognises as the user's (None for a bug)."""
    try:
        return body()
    except Stopped as e:
        print(f"error: {e}", file=sys.stderr)
        return e.status
    except Exception as e:
        if (message := disk_fault(e)) is not None:  # before ``mistakes``, which may hold OSError
            pass
        elif isinstance(e, (UserError, OutputError, *mistakes)):
            message = str(e)
        else:
            message = explain(e) if explain is not None else None
        if message is None or os.environ.get("NN_DEBUG"):
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own: a usage block, then the error
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def argument_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """An argparse parser whose --help shows the module docstring as written and whose errors
    follow the policy above (one line, exit status 2)."""
    return _OneLineParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
