"""Markdown -> LaTeX for the report's own Markdown (``report.tex``, for those who write in LaTeX).

It handles what the report uses, no more: headings, paragraphs, ``$...$`` / ``$$...$$`` math
(passed through: it is LaTeX already), `code`, **bold**, *italic*, [links](url), pipe tables,
``-`` and ``1.`` lists, fenced code blocks (``lstlisting``) and images on their own line
(``\\includegraphics``). Text is escaped; the few non-ASCII symbols our documents use become
their LaTeX spelling, so plain ``pdflatex`` compiles the result.
"""

import re

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
}
# listings cannot typeset multi-byte UTF-8: spell the few symbols our docstrings use in ASCII
_ASCII = {
    "⊙": "(.)",
    "Σ": "Sigma",
    "Λ": "Lambda",
    "±": "+/-",
    "σ": "sigma",
    "∂": "d",
    "≈": "~=",
    "→": "->",
    "≤": "<=",
    "≥": ">=",
    "×": "x",
    "−": "-",
    "²": "^2",
}


def tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIALS.get(ch, ch) for ch in text)


def ascii_only(code: str) -> str:
    return "".join(_ASCII.get(ch, ch if ord(ch) < 128 else "?") for ch in code)


HEADINGS = ("section*", "subsection*", "subsubsection*", "paragraph*", "subparagraph*")

# Outside math: symbols pdflatex cannot typeset from UTF-8 without extra packages.
UNICODE = {
    "–": "--",
    "—": "---",
    "−": "-",
    "’": "'",
    "‘": "`",
    "“": "``",
    "”": "''",
    "…": r"\ldots{}",
    "×": r"$\times$",
    "±": r"$\pm$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "≈": r"$\approx$",
    "→": r"$\to$",
    "⊙": r"$\odot$",
    "σ": r"$\sigma$",
    "Σ": r"$\Sigma$",
    "∂": r"$\partial$",
    "²": r"$^2$",
    "√": r"$\surd$",
    "µ": r"$\mu$",
    "é": r"\'e",
}

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\usepackage{listings}
\lstset{basicstyle=\ttfamily\scriptsize,breaklines=true,columns=fullflexible,
  keywordstyle=\bfseries,commentstyle=\itshape,showstringspaces=false}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
"""

_INLINE = re.compile(
    r"(?P<math>\$[^$\n]+?\$)"
    r"|`(?P<code>[^`\n]+)`"
    r"|\*\*(?P<bold>[^*\n]+?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\n]+?)\*(?![\w*])"
    r"|\[(?P<text>[^\]\n]+)\]\((?P<url>[^)\s]+)\)"
)


def _text(text: str) -> str:
    """Escape plain text for LaTeX and spell its non-ASCII symbols in LaTeX."""
    out = []
    for ch in tex_escape(text):
        if ord(ch) < 128:
            out.append(ch)
        else:
            out.append(UNICODE.get(ch, "?"))
    return "".join(out)


def inline(text: str) -> str:
    """One line of Markdown text -> LaTeX (math kept, everything else escaped)."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(_text(text[pos : m.start()]))
        if m["math"]:
            out.append(m["math"])
        elif m["code"] is not None:
            out.append(r"\texttt{" + _text(m["code"]) + "}")
        elif m["bold"] is not None:
            out.append(r"\textbf{" + inline(m["bold"]) + "}")
        elif m["em"] is not None:
            out.append(r"\emph{" + inline(m["em"]) + "}")
        else:
            out.append(inline(m["text"]))
        pos = m.end()
    out.append(_text(text[pos:]))
    return "".join(out)


def _table(lines: list[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    header, rule, body = rows[0], rows[1], rows[2:]
    align = "".join("r" if c.endswith(":") and not c.startswith(":") else "l" for c in rule)
    out = [r"\begin{center}\small", r"\begin{tabular}{" + align + "}", r"\hline"]
    out.append(" & ".join(inline(c) for c in header) + r" \\ \hline")
    out += [" & ".join(inline(c) for c in row) + r" \\" for row in body]
    out += [r"\hline", r"\end{tabular}", r"\end{center}"]
    return "\n".join(out)


def _list(lines: list[str], numbered: bool) -> str:
    env = "enumerate" if numbered else "itemize"
    marker = re.compile(r"^\d+\.\s+" if numbered else r"^[-*]\s+")
    items: list[str] = []
    for line in lines:
        if marker.match(line):
            items.append(marker.sub("", line))
        else:  # a continuation line of the item above
            items[-1] += " " + line.strip()
    body = "\n".join(r"\item " + inline(item) for item in items)
    return f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}"


def markdown_to_latex(md: str, top: int = 1) -> str:
    """Convert ``md``; a heading of level ``top`` becomes ``\\section*``, deeper ones nest."""
    lines = md.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        latex, i = _block(lines, i, top)
        out.append(latex)
    return "\n\n".join(out) + "\n"


BLOCK_START = re.compile(r"^(#|\||```|\$\$|!\[)")  # what ends a paragraph


def _until(lines: list[str], j: int, keep) -> int:
    """The first line from ``j`` on whose stripped text ``keep`` refuses (or the end)."""
    while j < len(lines) and keep(lines[j].strip()):
        j += 1
    return j


def _block(lines: list[str], i: int, top: int) -> tuple[str, int]:
    """The LaTeX of the block that starts at line ``i``, and the line after the block."""
    stripped = lines[i].strip()
    if stripped.startswith("```"):
        j = _until(lines, i + 1, lambda s: not s.startswith("```"))
        code = ascii_only("\n".join(lines[i + 1 : j]))
        return f"\\begin{{lstlisting}}[language=Python]\n{code}\n\\end{{lstlisting}}", j + 1
    if stripped.startswith("$$"):
        j = i
        while not (lines[j].strip().endswith("$$") and (j > i or len(stripped) > 2)):
            j += 1
        math = "\n".join(lines[i : j + 1]).strip()[2:-2].strip()
        return f"\\[\n{math}\n\\]", j + 1
    if heading := re.match(r"^(#+)\s+(.*)$", stripped):
        level = max(0, min(len(heading[1]) - top, len(HEADINGS) - 1))
        return f"\\{HEADINGS[level]}{{{inline(heading[2])}}}", i + 1
    if image := re.match(r"^!\[[^\]]*\]\(([^)]+)\)$", stripped):
        graphic = f"\\includegraphics[width=0.8\\linewidth]{{{image[1]}}}"
        return f"\\begin{{center}}\n{graphic}\n\\end{{center}}", i + 1
    if stripped.startswith("|"):
        j = _until(lines, i + 1, lambda s: s.startswith("|"))
        return _table(lines[i:j]), j
    numbered = re.match(r"^\d+\.\s+", stripped) is not None
    if numbered or re.match(r"^[-*]\s+", stripped):
        j = _until(lines, i + 1, lambda s: s and not s.startswith("#"))
        return _list([x.strip() for x in lines[i:j]], numbered), j
    j = _until(lines, i + 1, lambda s: s and not BLOCK_START.match(s))  # a paragraph
    return inline(" ".join(x.strip() for x in lines[i:j])), j
