"""Column guesses: one vocabulary for demo tables, training tables and image-zip CSVs."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from backend.columns import guess_file_column, guess_label_column, guess_text_column, paired_values
from backend.errors import InvalidInputError


def test_column_guesses_prefer_named_columns():
    frame = pd.read_csv(io.StringIO("id,Label,Text\n1,a,hello there\n2,b,goodbye now\n"))
    assert (guess_text_column(frame), guess_label_column(frame, "Text")) == ("Text", "Label")


def test_column_guesses_without_known_names_take_the_longest_and_the_most_repeated():
    frame = pd.DataFrame(
        {"id": ["1", "2", "3", "4"], "kind": ["x", "y", "x", "y"], "body": ["a long text", "more", "words here", "ok"]}
    )
    assert guess_text_column(frame) == "body"
    assert guess_label_column(frame, "body") == "kind"


def test_image_csv_file_column_is_guessed_by_name_else_first():
    assert guess_file_column(pd.DataFrame(columns=["label", "Image_Path"])) == "Image_Path"
    assert guess_file_column(pd.DataFrame(columns=["pic", "label"])) == "pic"


def test_the_text_and_label_guesses_never_pick_the_same_column_when_there_are_two():
    frame = pd.DataFrame({"sentiment": ["pos", "neg"], "评论": ["很好", "很差"]})
    assert guess_text_column(frame) == "评论"
    assert guess_label_column(frame, "评论") == "sentiment"
    assert guess_label_column(frame[["评论"]], "评论") == "评论"


def test_paired_values_keep_rows_with_both_values_and_refuse_one_column_picked_twice():
    frame = pd.DataFrame({"text": ["good", " ", None, "bad"], "label": ["pos", "neg", "pos", None]})
    assert paired_values(frame, "text", "label", ("Text column", "Label column")) == (["good"], ["pos"])
    with pytest.raises(InvalidInputError) as refused:
        paired_values(frame, "text", "text", ("Source column", "Reference column"))
    assert refused.value.user_text() == "Source column and Reference column are both text. Pick two different columns."
