"""Experiment configs composed from fragments, read before anything heavy is imported.

An experiment file names the fragments it builds on under ``defaults`` (paths relative to the
file, as in lightning-hydra-template), then states only what differs:

    # configs/fashion_mlp.yaml
    defaults: [logger/tensorboard.yaml, trainer/default.yaml, datamodule/fashion_mnist.yaml]
    trainer:
      max_epochs: 16

``expand`` turns ``--config configs/fashion_mlp.yaml`` into one ``--config`` per fragment (depth
first, in order) followed by the file itself, so that jsonargparse merges them exactly as it
merges several ``--config`` given by hand: a later file overrides an earlier one key by key.
"""

from dataclasses import dataclass
from pathlib import Path

from plumbing.settings import ConfigError, read  # noqa: F401 - ConfigError: this module's errors

BACKEND_KEY = ("model", "network", "init_args", "backend")  # numpy or torch, for LayerStack nets


def fragments(path: str | Path, _seen=()) -> list[Path]:
    """The files ``path`` builds on, depth first, without ``path`` itself."""
    path = Path(path)
    if path.resolve() in _seen:
        raise ConfigError(f"{path} includes itself through its defaults")
    names = read(path).get("defaults") or []
    if not isinstance(names, list):
        raise ConfigError(f"{path}: defaults must be a list of config files")
    out: list[Path] = []
    for i, name in enumerate(names, start=1):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"{path}: entry {i} of defaults is empty: write a fragment's path or remove the line"
            )
        fragment = path.parent / name
        if not fragment.is_file():
            raise ConfigError(f"{path} names the fragment {name}, but {fragment} does not exist")
        out += fragments(fragment, (*_seen, path.resolve())) + [fragment]
    return out


def config_paths(argv: list[str]) -> list[tuple[int, str]]:
    """(index in argv, path) of every ``--config PATH`` / ``--config=PATH``."""
    found = []
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            found.append((i, argv[i + 1]))
        elif arg.startswith("--config="):
            found.append((i, arg.split("=", 1)[1]))
    return found


def expand(argv: list[str]) -> list[str]:
    """argv with every config's fragments loaded before it (a config without ``defaults``, or a
    YAML string given to --config, passes unchanged). ``--defaults []`` follows each expanded
    file, so that a saved or printed config does not load the fragments a second time."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--config" and i + 1 < len(argv):
            path, i = argv[i + 1], i + 2
        elif arg.startswith("--config="):
            path, i = arg.split("=", 1)[1], i + 1
        else:
            out.append(arg)
            i += 1
            continue
        if path.endswith((".yaml", ".yml")) and not Path(path).is_file():
            raise ConfigError(f"config file {path} does not exist: check the path")
        if Path(path).is_file() and not read(path):
            raise ConfigError(f"{path} is empty: write its settings, or remove --config {path}")
        parts = fragments(path) if Path(path).is_file() else []
        for fragment in parts:
            out += ["--config", str(fragment)]
        out += ["--config", path] + (["--defaults", "[]"] if parts else [])
    return out


def backend_of(config: dict) -> str | None:
    """``model.network.init_args.backend`` of a config (None for networks without one)."""
    value = config
    for key in BACKEND_KEY:
        value = value.get(key) if hasattr(value, "get") else None
    return value


@dataclass(frozen=True)
class Experiment:
    """A Lightning run's command line, read once at the entry: ``args`` with every config's
    fragments expanded (what LightningCLI parses), the run's ``name`` (the first config file's
    name without .yaml, ``configs/iris_numpy.yaml`` -> ``iris_numpy``) and the network's
    ``backend`` (the last setting wins: a later file, then ``--model.network.init_args.backend``).
    A missing or malformed file is a ConfigError here, before torch is imported."""

    args: tuple[str, ...]
    name: str | None
    backend: str | None

    @classmethod
    def from_argv(cls, argv: list[str] | tuple[str, ...]) -> "Experiment":
        argv = list(argv)
        paths = [p for _, p in config_paths(argv) if Path(p).is_file()]
        args = expand(argv)
        backend = None
        flag = "--" + ".".join(BACKEND_KEY)
        for i, arg in enumerate(args):
            if arg == "--config" and i + 1 < len(args) and Path(args[i + 1]).is_file():
                backend = backend_of(read(args[i + 1])) or backend
            elif arg == flag and i + 1 < len(args):
                backend = args[i + 1]
            elif arg.startswith(flag + "="):
                backend = arg.split("=", 1)[1]
        return cls(tuple(args), Path(paths[0]).stem if paths else None, backend)
