"""Experiment configs composed from fragments, read once, before anything heavy is imported.

An experiment file names the fragments it builds on under ``defaults`` (paths relative to the
file, as in lightning-hydra-template), then states only what differs:

    # configs/fashion_mlp.yaml
    defaults: [logger/tensorboard.yaml, trainer/default.yaml, datamodule/fashion_mnist.yaml]
    trainer:
      max_epochs: 16

``Experiment.from_argv`` is the one reading of a run's config files: each file is parsed once,
fragments first (depth first, in order), then the file, then any later ``--config``; a later
setting overrides an earlier one key by key (``merge``). The result is passed down:
LightningCLI validates it and parses the rest of the command line on top of it
(``commands.cli.CLI.parse_arguments``), and reads no file again.

Why not several ``--config`` or jsonargparse's own includes: the files must be read before torch
is imported (``commands/train.py`` sets the process environment from the network's backend), and
jsonargparse would then parse every file a second time; nor does it have a ``defaults`` list.
"""

from dataclasses import dataclass, field
from pathlib import Path

from plumbing.settings import ConfigError, read  # noqa: F401 - ConfigError: this module's errors

BACKEND_KEY = ("model", "network", "init_args", "backend")  # numpy or torch, for LayerStack nets
BACKEND_FLAG = "--" + ".".join(BACKEND_KEY)


def merge(base: dict, update: dict) -> dict:
    """``update`` over ``base``, as jsonargparse merges two configs: mappings merge key by key;
    anything else (a list included) is replaced; a mapping that names another ``class_path``
    replaces the old one whole (the old ``init_args`` belong to the old class)."""
    out = dict(base)
    for key, value in update.items():
        old = out.get(key)
        same_class = (
            isinstance(old, dict)
            and isinstance(value, dict)
            and value.get("class_path", old.get("class_path")) == old.get("class_path")
        )
        out[key] = merge(old, value) if same_class else value
    return out


def load(path: str | Path, _seen: tuple[Path, ...] = ()) -> tuple[dict, list[Path]]:
    """(the settings ``path`` resolves to, with its fragments merged under it; the files read,
    fragments first and ``path`` last). Each file is parsed once."""
    path = Path(path)
    if path.resolve() in _seen:
        raise ConfigError(f"{path} includes itself through its defaults")
    settings = read(path)
    names = settings.pop("defaults", None) or []
    if not isinstance(names, list):
        raise ConfigError(f"{path}: defaults must be a list of config files")
    config, files = {}, []
    for i, name in enumerate(names, start=1):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"{path}: entry {i} of defaults is empty: write a fragment's path or remove the line"
            )
        fragment = path.parent / name
        if not fragment.is_file():
            raise ConfigError(f"{path} names the fragment {name}, but {fragment} does not exist")
        settings_of_fragment, read_files = load(fragment, (*_seen, path.resolve()))
        config, files = merge(config, settings_of_fragment), files + read_files
    return merge(config, settings), files + [path]


def run_config(run: str | Path) -> dict:
    """The config a run saved (``<run>/config.yaml``: LightningCLI's resolved settings)."""
    return read(Path(run) / "config.yaml")


def fragments(path: str | Path) -> list[Path]:
    """The files ``path`` builds on, depth first, without ``path`` itself."""
    return load(path)[1][:-1]


def backend_of(config: dict) -> str | None:
    """``model.network.init_args.backend`` of a config (None for networks without one)."""
    value = config
    for key in BACKEND_KEY:
        value = value.get(key) if hasattr(value, "get") else None
    return value


def _config_file(value: str) -> Path | None:
    """The file a ``--config`` value names; None for YAML text given in its place."""
    path = Path(value)
    if value.endswith((".yaml", ".yml")) and not path.is_file():
        raise ConfigError(f"config file {value} does not exist: check the path")
    return path if path.is_file() else None


@dataclass(frozen=True)
class Experiment:
    """A Lightning run's command line, read once at the entry: ``config``, the settings of its
    config files merged (fragments first); ``overrides``, the rest of the command line, which
    LightningCLI parses on top; ``files``, every file read, in order; the run's ``name`` (the
    first config file's name, ``configs/iris_numpy.yaml`` -> ``iris_numpy``) and the network's
    ``backend`` (the last setting wins: a later file, then ``--model.network.init_args.backend``).
    A missing or malformed file is a ConfigError here, before torch is imported."""

    config: dict = field(default_factory=dict)
    overrides: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    name: str | None = None
    backend: str | None = None

    @classmethod
    def from_argv(cls, argv: list[str] | tuple[str, ...]) -> "Experiment":
        config, files, overrides, args, name = {}, [], [], list(argv), None
        while args:
            arg = args.pop(0)
            if arg == "--config" and args:
                value = args.pop(0)
            elif arg.startswith("--config="):
                value = arg.split("=", 1)[1]
            else:
                overrides.append(arg)
                continue
            path = _config_file(value)
            if path is None:  # YAML text: LightningCLI parses it with the overrides
                overrides += ["--config", value]
                continue
            settings, read_files = load(path)
            if not settings:
                raise ConfigError(f"{path} is empty: write its settings, or remove --config {path}")
            config, files = merge(config, settings), files + read_files
            name = name or path.stem
        backend = _backend_flag(overrides) or backend_of(config)
        return cls(config, tuple(overrides), tuple(files), name, backend)


def _backend_flag(overrides: list[str]) -> str | None:
    """The last ``--model.network.init_args.backend`` given on the command line, if any."""
    found = None
    for i, arg in enumerate(overrides):
        if arg == BACKEND_FLAG and i + 1 < len(overrides):
            found = overrides[i + 1]
        elif arg.startswith(BACKEND_FLAG + "="):
            found = arg.split("=", 1)[1]
    return found
