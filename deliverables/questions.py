"""The homework's questions, from ``deliverables/questions.yaml``: the one table of them.

Each question has its number and title; the derivation questions (3.1-3.4) the sections of
docs/derivations.md they show and a pointer to the code; the questions with a written answer
(3.5, 4.1, 4.2) that section's title in answers.md; every question the code listed for it in
the appendix. ``deliverables/shown.yaml`` says which runs a question shows.
"""

from dataclasses import dataclass
from pathlib import Path

from plumbing.settings import ConfigError, read

QUESTIONS = Path(__file__).with_name("questions.yaml")


@dataclass(frozen=True)
class Question:
    number: str  # "3.1"
    title: str
    derivations: tuple[int, ...] = ()  # sections of docs/derivations.md
    code: str = ""  # where the derived code is, in Markdown
    answer: str | None = None  # its section title in answers.md, if it has a written answer
    appendix: tuple[str, ...] = ()  # deliverables/appendix.py's items
    appendix_note: str = ""

    @property
    def heading(self) -> str:
        return f"{self.number} {self.title}"


def questions(path: Path | None = None) -> list[Question]:
    """The questions, in order."""
    path = path or QUESTIONS
    try:
        return [
            Question(
                str(number),
                q["title"],
                tuple(q.get("derivations", ())),
                q.get("code", ""),
                q.get("answer"),
                tuple(q.get("appendix", ())),
                q.get("appendix_note", ""),
            )
            for number, q in read(path).items()
        ]
    except (KeyError, TypeError) as e:
        raise ConfigError(f"{path}: each question needs a title ({e})") from None


def question(number: str) -> Question:
    return next(q for q in questions() if q.number == number)
