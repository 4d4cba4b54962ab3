"""The commands' side of the one error policy (``plumbing.errors``): which errors of the
training stack are the user's to fix, and in what words. A user's mistake is one line on stderr
and exit status 2; a bug keeps its traceback; ``NN_DEBUG=1`` shows the traceback in both
cases."""

import re
import sys
from collections.abc import Callable

from plumbing import errors
from plumbing.errors import Stopped, UserError, argument_parser  # noqa: F401 - the commands' names
from plumbing.files import OutputError, disk_fault
from plumbing.paths import DataMissingError


def user_message(e: Exception, mistakes: tuple[type[Exception], ...] = ()) -> str | None:
    """The one line for an error the user can fix; None for a bug. ``mistakes``: more types
    that mean bad input where a command says so (numpy_nn reports a bad value, a missing file
    or a diverged loss as ValueError, OSError and FloatingPointError)."""
    from commands.configs import ConfigError

    if (fault := disk_fault(e)) is not None:  # a full disk, a read-only folder: before OSError
        return fault
    ours = (UserError, ConfigError, FloatingPointError, OutputError, DataMissingError)
    if isinstance(e, ours + mistakes):
        return str(e)
    # Errors of heavy modules, looked up only where they were imported (else none was raised):
    checkpoints, parser = (
        sys.modules.get("lightning_hw.checkpoints"),
        sys.modules.get("jsonargparse"),
    )
    if checkpoints is not None and isinstance(e, checkpoints.CheckpointError):
        return str(e)
    if parser is not None and isinstance(e, parser.ArgumentError):
        return parser_message(str(e))
    return _lightning_refusal(e)


def _lightning_refusal(e: BaseException) -> str | None:
    """The one line for a setting that Lightning or torch's DataLoader refused while fitting
    (``--trainer.val_check_interval`` over an epoch, ``num_workers -1``, resuming past
    ``max_epochs``, ...): a ValueError or MisconfigurationException raised in their code."""
    if not (isinstance(e, ValueError) or _is_misconfiguration(e)):
        return None
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    if not where.startswith(("pytorch_lightning", "lightning_fabric", "torch.utils.data")):
        return None
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return f"{first} (a setting Lightning refused: change it on the command line or in the config)"


def _is_misconfiguration(e: BaseException) -> bool:
    """Lightning's MisconfigurationException (looked up only where Lightning was imported)."""
    exceptions = sys.modules.get("lightning_fabric.utilities.exceptions")
    return exceptions is not None and isinstance(e, exceptions.MisconfigurationException)


# jsonargparse explains a rejected value by every type it tried; these parts say nothing to a user
_NOISE = (
    "Expected a <class 'NoneType'>",
    "Expected a path but",
    "Expected a dot import path",
    "Does not validate against any of the Union subtypes",
    "Subtypes",
    "Errors",
    "Given value type",
)


def parser_message(text: str) -> str:
    """jsonargparse's many-line explanation of a bad value, in one line: the key, what is wrong
    with the value, and where to look."""
    key = ".".join(re.findall(r'Parser key "([^"]+)"', text))
    given = re.search(r"Given value: (.*?)(?:\.? Got value:|\n|$)", text)
    not_a_class = re.search(r"Expected a dot import path string: (\S+)", text)
    text = re.split(r"\.? Got value:|Given value:", text)[0]
    text = re.sub(r'Parser key "[^"]+":\s*', "", text)
    text = re.sub(r"Type typing\..*? expects a function or a callable class:\s*", "", text)
    parts = [p.strip(" .:") for p in re.split(r"\n|(?:^|\s+)-\s+", text)]
    reasons = [
        re.sub(r"<class '(\w+)'>", r"\1", p) for p in parts if p and not p.startswith(_NOISE)
    ]
    reason = "; ".join(dict.fromkeys(reasons))
    if not reason and not_a_class:
        reason = f"{not_a_class.group(1)!r} is neither an importable class path nor a config file"
    if given and reason.startswith("Expected"):
        reason += f", got {given.group(1).strip()}"
    where = f"{key}: " if key else ""
    return f"{where}{reason or 'invalid value'} (see python train.py --help)"


def run_main(body: Callable[[], int], mistakes: tuple[type[Exception], ...] = ()) -> int:
    """Run an entry point's body under the policy, with the training stack's errors explained."""
    return errors.run_main(body, mistakes, explain=lambda e: user_message(e, mistakes))
