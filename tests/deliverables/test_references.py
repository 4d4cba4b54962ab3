"""deliverables/references.py: [@key] citations numbered, every cited source listed."""

import pytest

from commands.entry import UserError
from deliverables import references


def test_citations_are_numbered_in_order_of_first_use():
    known = references.load()
    texts, order = references.cite(["a [@cifar10] b [@airbench]", "c [@cifar10]"], known)
    assert texts == ["a [1] b [2]", "c [1]"] and order == ["cifar10", "airbench"]
    listed = references.references_markdown(order, known)
    assert listed.index("[1] Alex Krizhevsky") < listed.index("[2] Keller Jordan")
    assert "https://github.com/KellerJordan/cifar10-airbench" in listed


def test_an_unlisted_source_is_refused_with_the_file_to_add_it_to():
    with pytest.raises(UserError, match=r"\[@nowhere\].*references.yaml"):
        references.cite(["see [@nowhere]"], references.load())


def test_every_source_has_a_text_and_a_link():
    for key, entry in references.load().items():
        assert entry["text"].strip() and entry["url"].startswith("https://"), key
