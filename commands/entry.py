"""What every entry point shares: its argument parser's style and one error policy. A user's
mistake is one line on stderr and exit status 2; a bug keeps its traceback; ``NN_DEBUG=1`` shows
the traceback in both cases."""

import argparse
import os
import sys
from collections.abc import Callable

from lightning_hw.io import MissingFolderError


class UserError(Exception):
    """A mistake in the command, its config or its files: reported in one line."""


def user_message(e: Exception) -> str | None:
    """The one line for an error the user can fix; None for a bug."""
    from commands.configs import ConfigError

    if isinstance(e, (UserError, ConfigError, FloatingPointError, MissingFolderError)):
        return str(e)
    from jsonargparse import ArgumentError

    from lightning_hw.datamodules.vision import DataMissingError

    if isinstance(e, ArgumentError):
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        return " ".join(lines) + " (see --help)"
    if isinstance(e, DataMissingError):
        return str(e)
    return None


def run_main(body: Callable[[], int]) -> int:
    """Run an entry point's body under the policy above; its return value is the exit status."""
    try:
        return body()
    except Exception as e:
        message = user_message(e)
        if message is None or os.environ.get("NN_DEBUG"):
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


def argument_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """An argparse parser whose --help shows the module docstring as written."""
    return argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
