"""Reading, mapping and checking uploaded preference pairs before a preference-tuning job is queued."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from transformers import AutoTokenizer

from backend.errors import InvalidInputError
from backend.models.resolve import catalogue
from backend.training.preference import studio
from backend.training.preference.data import (
    MIN_PAIRS,
    PreferenceDataset,
    PreferenceMapping,
    guess_preference_mapping,
    pair_token_ids,
    prepare_preference_dataset,
    read_preference_upload,
    render_pairs,
    rows_table,
    to_pairs,
)
from backend.training.preference.params import PreferenceParams
from tests.support.chat_data import MARKER, marker_preference_rows

MAPPING = PreferenceMapping("prompt", "chosen", "rejected")


@pytest.fixture(scope="module")
def tokenizer(tiny_model_paths):
    return AutoTokenizer.from_pretrained(tiny_model_paths[catalogue.TEXT_GENERATION])


def _jsonl(records) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()


def _prepare(tokenizer, rows, **options) -> PreferenceDataset:
    return prepare_preference_dataset(rows_table(rows), MAPPING, tokenizer, PreferenceParams("tiny", **options))


def test_jsonl_and_csv_uploads_read_into_the_same_pairs(tokenizer):
    rows = marker_preference_rows(12)
    csv = pd.DataFrame(rows).to_csv(index=False).encode()
    from_jsonl = _prepare(tokenizer, read_preference_upload("votes.jsonl", _jsonl(rows)).to_dict("records"))
    frame = read_preference_upload("votes.csv", csv)
    from_csv = prepare_preference_dataset(frame, guess_preference_mapping(frame), tokenizer, PreferenceParams("tiny"))
    assert from_jsonl.train == from_csv.train and from_jsonl.validation == from_csv.validation
    assert len(from_csv.train) + len(from_csv.validation) == 12
    assert all(pair.chosen.startswith(MARKER) and not pair.rejected.startswith(MARKER) for pair in from_csv.train)
    assert from_csv.train[0].prompt == [{"role": "user", "content": from_csv.train[0].prompt[0]["content"]}]


def test_trl_conversational_rows_keep_a_multi_turn_prompt_and_take_the_assistant_reply(tokenizer):
    rows = [
        {
            "prompt": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": f"Question {i}?"},
            ],
            "chosen": [{"role": "assistant", "content": f"Short answer {i}."}],
            "rejected": [{"role": "assistant", "content": f"A long and rambling answer {i}."}],
        }
        for i in range(12)
    ]
    frame = read_preference_upload("trl.jsonl", _jsonl(rows))
    dataset = prepare_preference_dataset(frame, MAPPING, tokenizer, PreferenceParams("tiny", validation_fraction=0.2))
    pair = (dataset.train + dataset.validation)[0]
    assert [turn["role"] for turn in pair.prompt] == ["system", "user"]
    assert pair.chosen.startswith("Short answer") and pair.rejected.startswith("A long")


def test_columns_are_guessed_by_name_whatever_their_order():
    frame = pd.DataFrame({"worse": ["b"], "question": ["q"], "better": ["a"]})
    assert guess_preference_mapping(frame) == PreferenceMapping("question", "better", "worse")


def test_empty_fields_and_identical_replies_are_refused_with_their_rows(tokenizer):
    rows = marker_preference_rows(14)
    rows[1]["prompt"] = "   "
    rows[3]["chosen"] = ""
    rows[4]["rejected"] = None
    rows[6]["rejected"] = rows[6]["chosen"]
    rows[7]["rejected"] = rows[7]["chosen"]
    with pytest.raises(InvalidInputError) as refused:
        _prepare(tokenizer, rows)
    message = refused.value.message
    assert "1 pair have an empty prompt (row 2)" in message
    assert "have an empty chosen reply (row 4)" in message
    assert "have an empty or unreadable rejected reply (row 5)" in message
    assert "2 pairs have the same chosen and rejected reply (nothing to prefer) (rows 7, 8)" in message
    assert "nothing was queued" in refused.value.hint


def test_bad_rows_can_be_dropped_instead_and_each_drop_is_said(tokenizer):
    rows = marker_preference_rows(16)
    rows[0]["chosen"] = rows[0]["rejected"]
    rows[2]["prompt"] = ""
    rows.append(dict(rows[5]))  # a duplicate pair
    dataset = prepare_preference_dataset(
        rows_table(rows), PreferenceMapping("prompt", "chosen", "rejected", True), tokenizer, PreferenceParams("tiny")
    )
    assert len(dataset.train) + len(dataset.validation) == 14
    assert any(w.startswith("Dropped: 1 pair have the same chosen") for w in dataset.warnings)
    assert any("Removed 1 duplicate pair" in w for w in dataset.warnings)


def test_too_few_pairs_are_refused(tokenizer):
    with pytest.raises(InvalidInputError, match=f"Only {MIN_PAIRS - 1} usable pair\\(s\\); at least {MIN_PAIRS}"):
        _prepare(tokenizer, marker_preference_rows(MIN_PAIRS - 1))


def test_pairs_past_max_length_are_counted_and_said_and_prompts_that_fill_it_are_dropped(tokenizer):
    rows = marker_preference_rows(14)
    for row in rows[:3]:
        row["chosen"] = row["chosen"] + " and more" * 40
    rows[3]["prompt"] = "Describe " + "the bank " * 60
    dataset = _prepare(tokenizer, rows, max_length=64)
    assert dataset.summary["cut_rows"] == 3 and dataset.summary["dropped_rows"] == 1
    assert any(w.startswith("3 of 14 pair(s) are longer than 64 tokens and will be cut") for w in dataset.warnings)
    assert any(w.startswith("1 pair(s) have a prompt of 64 tokens or more") for w in dataset.warnings)
    assert len(dataset.train) + len(dataset.validation) == 13
    # Not cut at a larger maximum: the counts follow the chosen maximum.
    assert _prepare(tokenizer, rows, max_length=1024).summary["cut_rows"] == 0


def test_a_missing_column_or_one_column_used_twice_is_refused(tokenizer):
    frame = rows_table(marker_preference_rows(12))
    with pytest.raises(InvalidInputError, match="no column 'answer'; its columns are 'prompt', 'chosen', 'rejected'"):
        prepare_preference_dataset(
            frame, PreferenceMapping("prompt", "answer", "rejected"), tokenizer, PreferenceParams("tiny")
        )
    with pytest.raises(InvalidInputError, match="three different columns"):
        prepare_preference_dataset(
            frame, PreferenceMapping("prompt", "chosen", "chosen"), tokenizer, PreferenceParams("tiny")
        )


def test_other_file_types_are_refused_before_reading():
    with pytest.raises(InvalidInputError, match="unsupported file type"):
        read_preference_upload("votes.parquet", b"PAR1")


def test_pairs_render_with_the_chat_template_and_replies_end_at_the_end_of_turn(tokenizer):
    rows = marker_preference_rows(12)
    dataset = _prepare(tokenizer, rows)
    rendered = render_pairs(tokenizer, dataset.train[:2])
    assert rendered[0].prompt.endswith("<|im_start|>assistant\n") and "<|im_start|>user\n" in rendered[0].prompt
    assert rendered[0].chosen == dataset.train[0].chosen + "<|im_end|>"
    assert rendered[0].rejected == dataset.train[0].rejected + "<|im_end|>"
    prompt, chosen, rejected = pair_token_ids(tokenizer, rendered[0])
    assert tokenizer.decode(prompt + chosen) == rendered[0].prompt + rendered[0].chosen
    assert tokenizer.decode(rejected) == rendered[0].rejected


def test_a_checked_dataset_survives_the_run_folder(tokenizer, tmp_path):
    dataset = _prepare(tokenizer, marker_preference_rows(12))
    dataset.save(tmp_path / "data")
    assert PreferenceDataset.load(tmp_path / "data").train == dataset.train


def test_without_an_arena_the_votes_source_says_so_and_an_empty_vote_list_is_refused():
    try:
        import backend.arena.export  # noqa: F401 - present once the arena is merged
    except ImportError:
        with pytest.raises(InvalidInputError, match="arena is not part of this installation"):
            studio.arena_preference_table("ann")
    with pytest.raises(InvalidInputError, match="no preference pairs yet"):
        rows_table([])


def test_a_table_built_from_arena_rows_is_checked_like_an_upload(tokenizer):
    frame = rows_table(marker_preference_rows(12))
    assert list(frame.columns) == ["prompt", "chosen", "rejected"]
    assert guess_preference_mapping(frame) == MAPPING


# --- JSON and JSONL read by the table reader's one home (backend.table_checks) ---------------------

_PAIR = {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."}
_PAIR_LINE = json.dumps(_PAIR)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("mixed.jsonl", f"{_PAIR_LINE}\n[1, 2]\n".encode(), "mixed.jsonl: line 2 is [1, 2], not a JSON object."),
        ("text.jsonl", f'\n{_PAIR_LINE}\n"Paris."\n'.encode(), 'text.jsonl: line 3 is "Paris.", not a JSON object.'),
        ("mixed.json", f"[{_PAIR_LINE}, null]".encode(), "mixed.json: record 2 is null, not a JSON object."),
        (
            "nul.jsonl",
            (_PAIR_LINE + "\n" + _PAIR_LINE.replace("Lyon", "Ly\\u0000on") + "\n").encode(),
            "nul.jsonl: line 2 holds a NUL character (\\u0000).",
        ),
        (
            "nul.json",
            ("[" + _PAIR_LINE.replace("Paris", "Par\\u0000is") + "]").encode(),
            "nul.json: the file holds a NUL character (\\u0000).",
        ),
        (
            "comma.jsonl",
            (_PAIR_LINE[:-1] + ",}\n").encode(),
            "comma.jsonl could not be read as a table: line 1 is not JSON",
        ),
        ("comma.json", f"[{_PAIR_LINE},]".encode(), "comma.json could not be read as a table: it is not JSON"),
    ],
)
def test_preference_json_that_is_not_rows_of_objects_is_refused_naming_the_row(name, data, message):
    with pytest.raises(InvalidInputError) as refused:
        read_preference_upload(name, data)
    assert refused.value.message.startswith(message)


def test_a_bom_and_blank_lines_read_as_the_pairs_alone_and_text_stays_text():
    looks_like_a_date = {"prompt": "When?", "chosen": "2024-01-02", "rejected": "007"}
    data = b"\xef\xbb\xbf" + f"{_PAIR_LINE}\n\n  \n{json.dumps(looks_like_a_date)}\n\n".encode()
    frame = read_preference_upload("bom.jsonl", data)
    assert list(frame.columns) == ["prompt", "chosen", "rejected"]
    assert frame.to_dict("records") == [_PAIR, looks_like_a_date]
    pairs, errors, _ = to_pairs(frame, MAPPING)
    assert errors == [] and (pairs[1].chosen, pairs[1].rejected) == ("2024-01-02", "007")


def test_a_prompt_nested_two_levels_is_kept_as_its_turns():
    row = {
        "prompt": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye?"},
        ],
        "chosen": [{"role": "assistant", "content": "Bye."}],
        "rejected": [{"role": "assistant", "content": "No."}],
    }
    frame = read_preference_upload("nested.json", json.dumps([row]).encode())
    assert frame.loc[0, "prompt"] == row["prompt"]
    pairs, errors, _ = to_pairs(frame, MAPPING)
    assert errors == [] and [turn["content"] for turn in pairs[0].prompt] == ["Hi", "Hello", "Bye?"]
    assert (pairs[0].chosen, pairs[0].rejected) == ("Bye.", "No.")
