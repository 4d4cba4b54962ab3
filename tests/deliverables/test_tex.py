"""Markdown -> LaTeX (deliverables/tex.py): every block kind the report uses, escaped."""

import re

from deliverables.tex import markdown_to_latex, tex_escape


def check_balanced(tex: str) -> None:
    """Environments open and close in order; braces balance outside listings."""
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"unbalanced \\end{{{env}}}"
    assert not stack, f"unclosed environments: {stack}"
    body = re.sub(r"\\begin\{lstlisting\}.*?\\end\{lstlisting\}", "", tex, flags=re.S)
    assert body.count("{") == body.count("}")


SAMPLE = """## Results

A paragraph with $x_i^2$, `code_name`, **bold**, *italic* and [a link](https://example.org),
100% of it.

- one
- two

1. first
2. second

| a | b |
|---|---:|
| 1 | 2 |

$$
\\frac{\\partial L}{\\partial x}
$$

![loss](loss.png)

```python
print("x_1 → y")
```
"""


def test_every_block_kind_becomes_latex():
    tex = markdown_to_latex(SAMPLE, top=2)
    check_balanced(tex)
    assert tex.startswith("\\section*{Results}")
    assert "$x_i^2$" in tex and "\\texttt{code\\_name}" in tex and "100\\%" in tex
    assert "\\textbf{bold}" in tex and "\\emph{italic}" in tex
    assert "\\begin{itemize}" in tex and "\\begin{enumerate}" in tex
    assert "\\begin{tabular}" in tex and "\\[\n\\frac{\\partial L}{\\partial x}\n\\]" in tex
    assert "\\includegraphics[width=0.8\\linewidth]{loss.png}" in tex
    assert 'print("x_1 -> y")' in tex  # listings get ASCII
    assert all(ord(c) < 128 for c in tex)
    assert tex_escape("a_b & {c}") == "a\\_b \\& \\{c\\}"
