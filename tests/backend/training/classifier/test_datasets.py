"""Text tables: column mapping, label casting, every pre-training check, the stratified split."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from backend import uploads
from backend.columns import guess_label_column, guess_text_column
from backend.errors import InvalidInputError
from backend.i18n import use_language
from backend.training.classifier.datasets import (
    MIN_EXAMPLES_PER_CLASS,
    PreparedDataset,
    TextLabelColumns,
    label_text,
    prepare_text_dataset,
    stratified_split,
)
from tests.support.training_data import learnable_texts
from tests.support.translation_marks import wrap_every_translation


def _frame(rows: list[tuple[object, object]], columns: tuple[str, str] = ("text", "label")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def _balanced(per_class: int = 10) -> list[tuple[object, object]]:
    return [(f"text number {i} of {label}", label) for label in ("a", "b") for i in range(per_class)]


def test_learnable_table_prepares_with_stratified_split():
    prepared = prepare_text_dataset(
        learnable_texts(per_class=30), TextLabelColumns("text", "label"), validation_fraction=0.2
    )
    assert prepared.classes == ["negative", "positive"]
    assert len(prepared.validation) == 12 and len(prepared.train) == 48
    # Stratified: each class holds exactly its 20% share out.
    assert sorted(prepared.validation.labels) == [0] * 6 + [1] * 6
    assert set(prepared.train.inputs).isdisjoint(prepared.validation.inputs)
    assert prepared.summary["classes"] == {"negative": 30, "positive": 30}


def test_column_names_with_spaces_from_a_real_csv_are_mapped():
    data = "  Review , Sentiment \n" + "\n".join(f"good text {i},pos\nbad text {i},neg" for i in range(6))
    frame = uploads.read_table("reviews.csv", data.encode())
    prepared = prepare_text_dataset(frame, TextLabelColumns(" Review", "Sentiment "))
    assert prepared.classes == ["neg", "pos"]
    assert prepared.summary["text_column"] == "Review"


def test_missing_column_names_the_columns_that_exist():
    with pytest.raises(InvalidInputError, match=r"no column 'text'.*'review', 'label'"):
        prepare_text_dataset(_frame(_balanced(), ("review", "label")), TextLabelColumns("text", "label"))


def test_same_column_for_text_and_label_is_refused():
    with pytest.raises(InvalidInputError, match="must be different"):
        prepare_text_dataset(_frame(_balanced()), TextLabelColumns("text", "text"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, "1"), (1.0, "1"), (2.5, "2.5"), (True, "true"), (" pos ", "pos"), (None, ""), (float("nan"), "")],
)
def test_labels_of_any_type_become_class_names(value, expected):
    assert label_text(value) == expected


def test_numeric_labels_from_json_lines_are_classes():
    lines = "\n".join(f'{{"text": "sample {i}", "label": {i % 2}}}' for i in range(20))
    frame = uploads.read_table("data.jsonl", lines.encode())
    prepared = prepare_text_dataset(frame, TextLabelColumns("text", "label"))
    assert prepared.classes == ["0", "1"]


def test_missing_and_empty_values_are_reported_with_row_numbers():
    rows = _balanced()
    rows[2] = ("   ", "a")
    rows[5] = ("some text", None)
    with pytest.raises(
        InvalidInputError, match=r"2 rows of the file have an empty or missing text or label \(rows 4, 7\)"
    ):
        prepare_text_dataset(_frame(rows), TextLabelColumns("text", "label"))


def test_incomplete_rows_can_be_dropped_with_a_warning():
    rows = _balanced() + [("", "a")]
    prepared = prepare_text_dataset(_frame(rows), TextLabelColumns("text", "label", drop_incomplete=True))
    assert len(prepared.train) + len(prepared.validation) == 20
    assert any("Dropped 1 row" in w for w in prepared.warnings)


def test_one_class_is_refused():
    rows = [(f"text {i}", "only") for i in range(10)]
    with pytest.raises(InvalidInputError, match=r"Only one class \('only'\).*at least 2 classes"):
        prepare_text_dataset(_frame(rows), TextLabelColumns("text", "label"))


def test_classes_with_too_few_examples_are_named():
    rows = _balanced() + [("rare one", "c"), ("rare two", "c")]
    with pytest.raises(InvalidInputError, match=rf"fewer than {MIN_EXAMPLES_PER_CLASS} examples: 'c' \(2\)"):
        prepare_text_dataset(_frame(rows), TextLabelColumns("text", "label"))


def test_free_text_label_column_is_recognised():
    rows = [(f"text {i}", f"id-{i}") for i in range(60)]
    with pytest.raises(InvalidInputError, match="looks like\\s+free text or ids"):
        prepare_text_dataset(_frame(rows), TextLabelColumns("text", "label"))


def test_exact_duplicates_are_removed_with_a_warning():
    rows = _balanced() + [("text number 0 of a", "a")] * 3
    prepared = prepare_text_dataset(_frame(rows), TextLabelColumns("text", "label"))
    assert len(prepared.train) + len(prepared.validation) == 20
    assert any("Removed 3 duplicate" in w for w in prepared.warnings)


def test_conflicting_duplicates_are_refused():
    rows = _balanced() + [("text number 0 of a", "b")]
    with pytest.raises(InvalidInputError, match=r"1 text appears with different labels \('text number 0 of a'\)"):
        prepare_text_dataset(_frame(rows), TextLabelColumns("text", "label"))


def test_wrong_encoding_gets_a_message_before_mapping():
    binary = b"text,label\n" + bytes(range(128, 256)) * 4
    with pytest.raises(InvalidInputError, match="not UTF-8, GB18030, Big5 or Shift-JIS"):
        uploads.read_table("latin.csv", binary)


def test_gb18030_chinese_file_is_read_and_prepared():
    rows = "\n".join(f"这是第{i}条好评,好\n这是第{i}条差评,差" for i in range(6))
    frame = uploads.read_table("zh.csv", ("文本,标签\n" + rows).encode("gb18030"))
    text = guess_text_column(frame)
    prepared = prepare_text_dataset(frame, TextLabelColumns(text, guess_label_column(frame, text)))
    assert prepared.classes == ["好", "差"]


def test_overlong_texts_are_refused_and_long_ones_warned():
    rows = _balanced()
    rows[0] = ("x" * 20_001, "a")
    with pytest.raises(InvalidInputError, match="longer than 20,000 characters"):
        prepare_text_dataset(_frame(rows), TextLabelColumns("text", "label"))
    long_rows = [("word " * 200 + str(i), label) for i, (_, label) in enumerate(_balanced())]
    prepared = prepare_text_dataset(_frame(long_rows), TextLabelColumns("text", "label"), max_length=64)
    assert any("longer than 64 tokens" in w for w in prepared.warnings)


def test_uploaded_validation_file_is_used_and_checked():
    train = _frame(_balanced())
    validation = _frame([("held out a", "a"), ("held out b", "b")])
    prepared = prepare_text_dataset(train, TextLabelColumns("text", "label"), validation_frame=validation)
    assert prepared.validation.inputs == ["held out a", "held out b"]
    assert len(prepared.train) == 20
    unknown = _frame([("held out z", "z")])
    with pytest.raises(InvalidInputError, match="labels not in the training file: 'z'"):
        prepare_text_dataset(train, TextLabelColumns("text", "label"), validation_frame=unknown)


def test_stratified_split_keeps_every_class_in_both_parts():
    labels = [0] * 50 + [1] * 5 + [2] * 5
    train, validation = stratified_split(labels, 0.2, seed=1)
    assert sorted(train + validation) == list(range(60))
    held = [labels[i] for i in validation]
    assert held.count(0) == 10 and held.count(1) == 1 and held.count(2) == 1
    assert stratified_split(labels, 0.2, seed=1) == (train, validation)


def test_prepared_dataset_round_trips_through_json(tmp_path):
    prepared = prepare_text_dataset(learnable_texts(per_class=10), TextLabelColumns("text", "label"))
    prepared.save(tmp_path)
    loaded = PreparedDataset.load(tmp_path)
    assert loaded.train.inputs == prepared.train.inputs and loaded.validation.labels == prepared.validation.labels
    assert loaded.classes == prepared.classes


def test_mapping_reaches_the_prepared_dataset_as_one_value():
    frame = _frame([*_balanced(), ("", "a"), ("orphan text", None)], ("body", "kind"))
    mapping = TextLabelColumns(" body ", "kind", drop_incomplete=True)
    prepared = prepare_text_dataset(frame, mapping)
    assert (prepared.summary["text_column"], prepared.summary["label_column"]) == ("body", "kind")
    assert prepared.summary["used_rows"] == 20
    assert any("Dropped 2 rows" in warning for warning in prepared.warnings)
    with pytest.raises(InvalidInputError, match="2 row"):
        prepare_text_dataset(frame, TextLabelColumns("body", "kind"))


@pytest.mark.parametrize("suffix", [".xlsx", ".tsv"])
def test_spreadsheets_and_tab_separated_files_prepare_the_same(suffix):
    frame = learnable_texts(per_class=10)
    buffer = io.BytesIO()
    if suffix == ".xlsx":
        frame.to_excel(buffer, index=False, engine="openpyxl")
    else:
        buffer.write(frame.to_csv(index=False, sep="\t").encode("utf-8"))
    table = uploads.read_table(f"data{suffix}", buffer.getvalue())
    prepared = prepare_text_dataset(table, TextLabelColumns("text", "label"))
    assert prepared.classes == ["negative", "positive"]
    assert len(prepared.train) + len(prepared.validation) == len(set(frame["text"]))


def test_every_check_speaks_the_language_of_whoever_checks_the_data(monkeypatch):
    # Under a catalogue that wraps what it translates, a message built without it shows unwrapped.
    wrap_every_translation(monkeypatch)
    rows = [*_balanced(), ("text number 0 of a", "a"), ("", "b"), *[(f"one of c {i}", "c") for i in range(6)]]
    with use_language("zh"):
        prepared = prepare_text_dataset(_frame(rows), TextLabelColumns("text", "label", drop_incomplete=True))
        with pytest.raises(InvalidInputError) as refused:
            prepare_text_dataset(_frame([*_balanced(), ("", "b")]), TextLabelColumns("text", "label"))
    # Dropped rows, a removed duplicate, a class of few examples; and the split's description.
    assert len(prepared.warnings) == 3, prepared.warnings
    assert all(warning.startswith("‹") for warning in prepared.warnings), prepared.warnings
    assert prepared.summary["validation_source"].startswith("‹")
    # The refusal's numbered problem (an empty text) is a translated sentence, the file named in it too.
    assert "(1) ‹1 row of ‹the file› has an empty" in refused.value.user_text()
