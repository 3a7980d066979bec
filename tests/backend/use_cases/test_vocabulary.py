"""The use-case vocabularies read from data/use_case_vocabulary.csv: complete, in order, and refused when broken."""

from __future__ import annotations

import pytest

from backend.use_cases import vocabulary


def test_the_shipped_file_gives_every_vocabulary_in_its_order():
    assert vocabulary.term_keys(vocabulary.MATURITY) == (vocabulary.CURRENT, vocabulary.FUTURE, vocabulary.TREND)
    assert vocabulary.term_keys(vocabulary.TASK_BASES) == (vocabulary.STATED, vocabulary.INFERRED, vocabulary.NO_TASKS)
    assert vocabulary.term_keys(vocabulary.DOCUMENTS) == tuple(vocabulary.DOCUMENT_FILES)
    assert vocabulary.INDUSTRIES[0] == vocabulary.Term("nlp", "Natural language processing", "自然语言处理")
    assert len(vocabulary.INDUSTRIES) == 13 and len(vocabulary.AI_TASKS) == 18
    assert vocabulary.find_term(vocabulary.AI_TASKS, "translation").label("zh") == "机器翻译"


def test_a_file_is_read_as_vocabularies_of_terms(tmp_path):
    path = tmp_path / "vocabulary.csv"
    path.write_text("vocabulary,key,en,zh\ncolours,red,Red,红\ncolours,blue,Blue,蓝\nsizes,s,Small,小\n", "utf-8")
    assert vocabulary.read_vocabularies(path) == {
        "colours": (vocabulary.Term("red", "Red", "红"), vocabulary.Term("blue", "Blue", "蓝")),
        "sizes": (vocabulary.Term("s", "Small", "小"),),
    }


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("colours,red,Red,\n", "line 2: a term needs a key and both labels"),
        ("colours,red,Red\n", "line 2: a term needs a key and both labels"),
        ("colours,red,Red,红\ncolours,red,Scarlet,朱红\n", "line 3: 'red' is already in colours"),
    ],
)
def test_a_term_without_labels_or_a_repeated_key_is_refused(tmp_path, rows, message):
    path = tmp_path / "vocabulary.csv"
    path.write_text("vocabulary,key,en,zh\n" + rows, "utf-8")
    with pytest.raises(ValueError, match=message):
        vocabulary.read_vocabularies(path)
