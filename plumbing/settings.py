"""Settings files: a YAML mapping read with the safe loader, or one clear error.

Every YAML the project reads as settings (experiment configs and their fragments, student.yaml,
references.yaml, shown.yaml, the grader's config) goes through ``read``; a missing, malformed or
non-mapping file is a ``ConfigError`` that names the file (and the line) and what to do.
"""

from pathlib import Path

import yaml


class ConfigError(Exception):
    """A config file that is missing, malformed, or names a fragment that is missing."""


def read(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        raise ConfigError(f"{path}{line} is not valid YAML: fix the file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds a {type(data).__name__}, not a mapping of settings")
    return data
