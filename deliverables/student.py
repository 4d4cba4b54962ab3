"""Who hands the homework in: ``student.yaml`` (or ``--name/--sid/--collaborators``), and the
cover page the homework asks for first: with whom the student worked, and the course's
certification with the student's name typed beneath it.

    # student.yaml (copy student.example.yaml)
    name: Ada Lovelace
    sid: "3030000000"          # optional
    collaborators: none        # or a list: [Grace Hopper, Alan Turing]
"""

from dataclasses import dataclass
from pathlib import Path

from commands.entry import UserError
from plumbing.settings import ConfigError, read

CERTIFICATION = (
    "I certify that all solutions are entirely in my own words and that I have not looked at "
    "another student's solutions. I have given credit to all external sources I consulted."
)
EXAMPLE = Path(__file__).resolve().parents[1] / "student.example.yaml"
FIELDS = ("name", "sid", "collaborators")


@dataclass(frozen=True)
class Student:
    name: str = ""
    sid: str = ""
    collaborators: tuple[str, ...] = ()  # () = none

    @property
    def worked_with(self) -> str:
        return ", ".join(self.collaborators) if self.collaborators else "none"


def _names(value) -> tuple[str, ...]:
    """``collaborators``: "none", a comma-separated string, or a list of names."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    names = tuple(str(v).strip() for v in items if str(v).strip())
    return () if [n.lower() for n in names] in ([], ["none"]) else names


def load(path: str | Path | None, name=None, sid=None, collaborators=None) -> Student:
    """The student from ``path`` (skipped when it does not exist), each field overridden by the
    command line's value where given."""
    fields = {}
    if path is not None and Path(path).is_file():
        fields = read(path) or {}
        if not isinstance(fields, dict):
            raise ConfigError(
                f"{path}: expected the fields {', '.join(FIELDS)}, as in {EXAMPLE.name}"
            )
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise ConfigError(
                f"{path}: unknown field {unknown[0]!r}: the fields are {', '.join(FIELDS)}"
            )
    given = {"name": name, "sid": sid, "collaborators": collaborators}
    fields.update({k: v for k, v in given.items() if v is not None})
    return Student(
        str(fields.get("name") or "").strip(),
        str(fields.get("sid") or "").strip(),
        _names(fields.get("collaborators")),
    )


def require_name(student: Student, path, draft: bool) -> None:
    """A final hand-in carries a name; a draft may not."""
    if not student.name and not draft:
        raise UserError(
            f"no name for the cover page: copy {EXAMPLE.name} to {path or 'student.yaml'} and fill "
            "in your name (or pass --name), or pass --draft to build a draft"
        )


def cover_markdown(student: Student, title: str, draft: bool) -> str:
    """The first page: title, name, SID, collaborators, the certification and the typed name."""
    name = student.name or "(no name given)"
    lines = [f"# {title}"]
    if draft:
        lines.append("**DRAFT: not for submission.**")
    lines.append(f"**Name:** {name}")
    if student.sid:
        lines.append(f"**SID:** {student.sid}")
    lines += [
        f"**Collaborators:** {student.worked_with}",
        "### Certification",
        f"*{CERTIFICATION}*",
        f"Signed (typed): **{name}**",
    ]
    return "\n\n".join(lines) + "\n"
