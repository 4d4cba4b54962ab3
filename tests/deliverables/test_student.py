"""deliverables/student.py: student.yaml, the cover page and its certification."""

import pytest

from commands.entry import UserError
from deliverables import student
from plumbing.settings import ConfigError


def test_fields_from_the_file_and_the_command_line(tmp_path):
    path = tmp_path / "student.yaml"
    path.write_text("name: Ada Lovelace\nsid: 3030000000\ncollaborators: [Grace Hopper]\n")
    who = student.load(path)
    assert who == student.Student("Ada Lovelace", "3030000000", ("Grace Hopper",))
    assert student.load(path, name="Ada King", collaborators="none").name == "Ada King"
    assert student.load(path, collaborators="none").worked_with == "none"
    assert student.load(path, collaborators="A, B").collaborators == ("A", "B")
    assert student.load(tmp_path / "absent.yaml") == student.Student()  # no file: no fields


def test_the_example_file_loads_and_has_no_name():
    who = student.load(student.EXAMPLE)
    assert who.name == "" and who.worked_with == "none"


def test_unknown_field_is_refused(tmp_path):
    path = tmp_path / "student.yaml"
    path.write_text("nmae: Ada\n")
    with pytest.raises(ConfigError, match="unknown field 'nmae'"):
        student.load(path)


def test_a_final_hand_in_needs_a_name():
    with pytest.raises(UserError, match="student.example.yaml.*--draft"):
        student.require_name(student.Student(), "student.yaml", draft=False)
    student.require_name(student.Student(), "student.yaml", draft=True)  # a draft may lack one


def test_cover_page():
    who = student.Student("Ada Lovelace", "", ("Grace Hopper",))
    page = student.cover_markdown(who, "Title", draft=False)
    assert page.startswith("# Title")
    assert student.CERTIFICATION in page and "Signed (typed): **Ada Lovelace**" in page
    assert "Collaborators:** Grace Hopper" in page and "SID" not in page and "DRAFT" not in page
    assert "DRAFT" in student.cover_markdown(who, "Title", draft=True)
