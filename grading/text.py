"""Text from anywhere the grader does not control (a student's exception, a file name in a zip,
a notebook, Gradescope's metadata), made safe to show: the one function every line a student
reads, results.json, the printed table and a batch's CSV pass through."""

import unicodedata


def printable(text, limit: int = 300, lines: bool = False) -> str:
    """At most ``limit`` characters of ``text`` with every control character (escape sequences,
    carriage returns, line and paragraph separators, ...) a space; ``lines`` keeps the line
    breaks (the grader's own, between the lines it writes)."""
    text = str(text)
    if lines:
        return "\n".join(printable(line, limit) for line in text.split("\n"))[: limit * 64]
    kept = (c if c.isprintable() and unicodedata.category(c) != "Zl" else " " for c in text[:limit])
    return "".join(kept)
