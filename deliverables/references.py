"""Credits: ``deliverables/references.yaml`` lists the sources; any report text cites one as
``[@key]``. ``cite`` numbers the cited ones in order of first use (``[1]``) and ``references_markdown`` lists them, so every pointer in the text has its entry."""

import re
from pathlib import Path

from commands.entry import UserError
from plumbing.settings import ConfigError, read

REFERENCES = Path(__file__).with_name("references.yaml")
CITATION = re.compile(r"\[@([A-Za-z0-9_-]+)\]")


def load(path: Path = REFERENCES) -> dict[str, dict]:
    entries = read(path) or {}
    for key, e in entries.items():
        if not isinstance(e, dict) or not str(e.get("text", "")).strip():
            raise ConfigError(f"{path}: {key} needs a text (and may have a url)")
    return entries


def cite(texts: list[str], known: dict[str, dict]) -> tuple[list[str], list[str]]:
    """``texts`` with each ``[@key]`` replaced by its number, and the cited keys in order.
    An unknown key is a UserError naming it and the file to add it to."""
    order: list[str] = []

    def number(m: re.Match) -> str:
        key = m.group(1)
        if key not in known:
            raise UserError(f"[@{key}] is cited but not listed: add {key} to {REFERENCES}")
        if key not in order:
            order.append(key)
        return f"[{order.index(key) + 1}]"

    return [CITATION.sub(number, t) for t in texts], order


def references_markdown(order: list[str], known: dict[str, dict]) -> str:
    """The numbered list of the cited sources."""
    if not order:
        return "No external sources are cited."
    lines = []
    for i, key in enumerate(order, start=1):
        e = known[key]
        url = f" [{e['url']}]({e['url']})" if e.get("url") else ""
        lines.append(f"[{i}] {e['text']}{url}")
    return "\n\n".join(lines)
