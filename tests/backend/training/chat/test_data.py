"""Reading, mapping and checking uploaded conversations before a chat-tuning job is queued."""

from __future__ import annotations

import dataclasses
import json

import pytest
from transformers import AutoTokenizer

from backend.errors import InvalidInputError
from backend.i18n import use_language
from backend.inference import chat_prompt
from backend.inference.chat_prompt import ChatMessage
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.training.chat import data as chat_data
from backend.training.chat.data import (
    ALPACA,
    IGNORE_INDEX,
    MESSAGES,
    SHAREGPT,
    TABLE,
    ChatMapping,
    encode_conversation,
    prepare_chat_dataset,
    read_chat_upload,
)
from backend.training.chat.params import ChatTuneParams
from tests.backend.models import architectures
from tests.support.chat_data import MARKER, as_messages_jsonl, marker_conversations
from tests.support.translation_marks import wrap_every_translation


@pytest.fixture(scope="module")
def tokenizer(tiny_model_paths):
    return AutoTokenizer.from_pretrained(tiny_model_paths[catalogue.TEXT_GENERATION])


def _params(**options) -> ChatTuneParams:
    return ChatTuneParams("tiny", **options)


def _jsonl(records) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()


def test_each_common_shape_is_recognised_and_read_into_the_same_conversation():
    messages = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    sharegpt = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}
    alpaca = {"instruction": "Hi", "input": "", "output": "Hello"}
    expected = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    for record, shape in ((messages, MESSAGES), (sharegpt, SHAREGPT), (alpaca, ALPACA)):
        upload = read_chat_upload("data.jsonl", _jsonl([record]))
        assert upload.shape == shape
        conversations, errors, _ = chat_data.to_conversations(upload, chat_data.guess_mapping(upload))
        assert (conversations, errors) == ([expected], [])


def test_alpaca_input_joins_the_instruction_and_a_table_maps_its_columns_explicitly():
    upload = read_chat_upload(
        "a.json", json.dumps([{"instruction": "Translate", "input": "cat", "output": "猫"}]).encode()
    )
    conversations, _, _ = chat_data.to_conversations(upload, ChatMapping(ALPACA))
    assert conversations[0][0]["content"] == "Translate\n\ncat"
    table = read_chat_upload("t.csv", b"question,answer,persona\nHi,Hello,Be brief\n")
    assert chat_data.guess_mapping(table) == ChatMapping(TABLE, "question", "answer", "")
    conversations, errors, _ = chat_data.to_conversations(table, ChatMapping(TABLE, "question", "answer", "persona"))
    assert errors == [] and [t["role"] for t in conversations[0]] == ["system", "user", "assistant"]
    _, errors, _ = chat_data.to_conversations(table, ChatMapping(TABLE, "question", "nope"))
    assert "no column 'nope'" in errors[0]


def test_bad_turns_are_reported_with_their_rows_or_dropped_on_request():
    records = [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  "}]},
        {"messages": [{"role": "boss", "content": "Hi"}, {"role": "assistant", "content": "Yes"}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Again"}]},
        {"messages": [{"role": "user", "content": "Hi"}]},
        {"messages": [{"role": "user", "content": "Fine"}, {"role": "assistant", "content": "Good"}]},
        {"messages": "not a list"},
    ]
    upload = read_chat_upload("bad.jsonl", _jsonl(records))
    conversations, errors, _ = chat_data.to_conversations(upload, ChatMapping(MESSAGES))
    text = " ".join(errors)
    assert "1 conversation has an empty turn 2 (assistant) (row 1)." in text
    assert "unknown role 'boss'" in text and "(row 2)" in text
    assert "two user turns in a row" in text
    assert "does not end with an assistant reply" in text
    assert "has no list of turns" in text and "(row 6)" in text
    kept, errors, warnings = chat_data.to_conversations(upload, ChatMapping(MESSAGES, drop_bad_rows=True))
    assert errors == [] and len(kept) == 1 and len(warnings) == 5


def test_unreadable_uploads_are_refused_with_the_line():
    with pytest.raises(InvalidInputError, match="line 2 is not JSON"):
        read_chat_upload("x.jsonl", b'{"messages": []}\n{oops\n')
    with pytest.raises(InvalidInputError, match="unsupported file type"):
        read_chat_upload("x.pkl", b"data")


def test_only_assistant_replies_carry_labels_and_the_prompt_matches_what_generation_sees(tokenizer):
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Goodbye"},
    ]
    encoded = encode_conversation(tokenizer, conversation, 512)
    trained = tokenizer.decode(
        [t for t, label in zip(encoded.input_ids, encoded.labels, strict=True) if label != IGNORE_INDEX]
    )
    assert trained == "Hello<|im_end|>\nGoodbye<|im_end|>\n"
    for turns, context_only in ((conversation[:2], True), (conversation[:4], False)):
        prompt = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        assert encoded.input_ids[: len(prompt_ids)] == prompt_ids
        assert all(label == IGNORE_INDEX for label in encoded.labels[: len(prompt_ids)]) == context_only
    short = encode_conversation(tokenizer, conversation, 10)
    assert short.cut and len(short.input_ids) == 10 and short.full_tokens == len(encoded.input_ids)


def test_the_check_counts_cut_rows_removes_duplicates_splits_and_previews_in_the_models_template(tokenizer):
    conversations = marker_conversations(20)
    long = [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": f"{MARKER} ok"}]
    upload = read_chat_upload("c.jsonl", as_messages_jsonl([*conversations, conversations[0], long]))
    dataset = prepare_chat_dataset(
        upload, ChatMapping(MESSAGES), tokenizer, _params(max_length=64, validation_fraction=0.2)
    )
    assert dataset.summary["rows"] == 22 and dataset.summary["used_rows"] == 20  # duplicate removed, long one dropped
    assert any("duplicate" in w for w in dataset.warnings)
    assert any("1 conversation loses every reply" in w for w in dataset.warnings)
    assert dataset.summary["cut_rows"] == 1 and any("longer than 64 tokens" in w for w in dataset.warnings)
    assert (dataset.summary["train_size"], dataset.summary["validation_size"]) == (16, 4)
    assert dataset.preview["formatted"].startswith("<|im_start|>user\n")
    assert dataset.preview["trained"].startswith(MARKER) and dataset.preview["trained"].endswith("<|im_end|>\n")


def test_too_few_conversations_or_no_chat_template_are_refused(tokenizer, tiny_model_paths):
    upload = read_chat_upload("c.jsonl", as_messages_jsonl(marker_conversations(3)))
    with pytest.raises(InvalidInputError, match="at least 8 are needed"):
        prepare_chat_dataset(upload, ChatMapping(MESSAGES), tokenizer, _params())
    plain = AutoTokenizer.from_pretrained(tiny_model_paths[catalogue.SENTIMENT])
    with pytest.raises(InvalidInputError, match="no chat template"):
        prepare_chat_dataset(upload, ChatMapping(MESSAGES), plain, _params(), model_name="bert")


def test_a_template_without_a_system_role_gets_the_system_message_in_the_first_user_turn(tiny_model_paths):
    # Gemma's template refuses a system role; the data check folds it as the chat demo does, not refuses.
    gemma = AutoTokenizer.from_pretrained(tiny_model_paths[catalogue.TEXT_GENERATION])
    gemma.chat_template = architectures.GEMMA_TEMPLATE
    conversations = [[{"role": "system", "content": "Be brief."}, *turns] for turns in marker_conversations(10)]
    upload = read_chat_upload("c.jsonl", as_messages_jsonl(conversations))
    dataset = prepare_chat_dataset(upload, ChatMapping(MESSAGES), gemma, _params(validation_fraction=0.2))
    first = dataset.train[0]
    assert dataset.summary["used_rows"] == 10 and first[0]["role"] == "system"  # the data itself is kept
    asked = f"Be brief.\n\n{first[1]['content']}"
    assert dataset.preview["formatted"].startswith(
        f"{gemma.bos_token or ''}<start_of_turn>user\n{asked}<end_of_turn>\n"
    )
    assert dataset.preview["trained"] == f"{first[2]['content']}<end_of_turn>\n"
    # Training sees exactly the prompt the chat demo sends the model for the same two turns.
    loaded = dataclasses.replace(
        load_model(catalogue.TEXT_GENERATION, tiny_model_paths[catalogue.TEXT_GENERATION]), preprocessor=gemma
    )
    demo_ids = chat_prompt.prepare_prompt(loaded, [ChatMessage(**turn) for turn in first[:2]], 8).input_ids[0].tolist()
    encoded = chat_data.encode_conversation(gemma, first, 512)
    assert len(demo_ids) > 10 and encoded.input_ids[: len(demo_ids)] == demo_ids
    assert all(label == chat_data.IGNORE_INDEX for label in encoded.labels[: len(demo_ids)])
    # A template that refuses for another reason still refuses, folded or not.
    gemma.chat_template = "{{ raise_exception('Conversation roles must alternate') }}"
    with pytest.raises(InvalidInputError, match="roles must alternate"):
        prepare_chat_dataset(upload, ChatMapping(MESSAGES), gemma, _params())


# --- hostile uploads of the last round ------------------------------------------------------------


def test_a_json_line_with_too_many_keys_meets_the_table_column_limit():
    from backend import table_checks

    wide = json.dumps({f"k{index}": index for index in range(200_000)}).encode()
    with pytest.raises(InvalidInputError) as refused:
        read_chat_upload("wide.jsonl", wide)
    assert refused.value.message == (
        f"wide.jsonl has 200,000 columns in line 1; the limit is {table_checks.MAX_TABLE_COLUMNS:,}."
    )


def test_a_lone_surrogate_escape_is_named_with_its_row():
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    lone = '{"messages": [{"role": "user", "content": "Hi \\ud800"}, {"role": "assistant", "content": "Hello"}]}'
    data = (json.dumps(good) + "\n" + lone + "\n").encode()
    upload = read_chat_upload("chats.jsonl", data)
    _, errors, _ = chat_data.to_conversations(upload, chat_data.guess_mapping(upload))
    assert errors[0] == (
        "1 conversation holds an escape that is no character in turn 1 (a lone surrogate such as \\ud800) (row 2)."
    )


def test_a_json_list_of_strings_is_told_each_record_must_be_a_conversation():
    with pytest.raises(InvalidInputError) as refused:
        read_chat_upload("lines.json", json.dumps(["Hello", "How are you?"]).encode())
    assert refused.value.message == 'lines.json: record 1 is "Hello", not a JSON object.'
    assert '{"messages": [{"role": "user"' in refused.value.hint


# --- JSON and JSONL read by the table reader's one home (backend.table_checks) ---------------------

_CHAT = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
_CHAT_LINE = json.dumps(_CHAT)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("mixed.jsonl", f"{_CHAT_LINE}\n[1, 2]\n".encode(), "mixed.jsonl: line 2 is [1, 2], not a JSON object."),
        (
            "text.jsonl",
            f'{_CHAT_LINE}\n\n"just text"\n'.encode(),
            'text.jsonl: line 3 is "just text", not a JSON object.',
        ),
        ("mixed.json", f"[{_CHAT_LINE}, 7]".encode(), "mixed.json: record 2 is 7, not a JSON object."),
        (
            "nul.jsonl",
            (_CHAT_LINE + "\n" + _CHAT_LINE.replace("Hello", "Hel\\u0000lo") + "\n").encode(),
            "nul.jsonl: line 2 holds a NUL character (\\u0000).",
        ),
        (
            "nul.json",
            ("[" + _CHAT_LINE.replace("Hi", "H\\u0000i") + "]").encode(),
            "nul.json: the file holds a NUL character (\\u0000).",
        ),
    ],
)
def test_chat_json_records_that_are_not_objects_or_hold_a_nul_are_refused_naming_the_row(name, data, message):
    with pytest.raises(InvalidInputError) as refused:
        read_chat_upload(name, data)
    assert refused.value.message == message


@pytest.mark.parametrize(
    ("name", "data", "named"),
    [
        (
            "comma.jsonl",
            (_CHAT_LINE[:-1] + ", }\n").encode(),
            "comma.jsonl could not be read as a table: line 1 is not JSON",
        ),
        ("comma.json", f"[{_CHAT_LINE},]".encode(), "comma.json could not be read as a table: it is not JSON"),
    ],
)
def test_a_trailing_comma_is_refused_naming_where(name, data, named):
    with pytest.raises(InvalidInputError) as refused:
        read_chat_upload(name, data)
    assert refused.value.message.startswith(named)


def test_a_bom_and_blank_lines_read_as_the_conversations_alone_and_line_numbers_count_the_blanks():
    data = b"\xef\xbb\xbf" + f"{_CHAT_LINE}\n\n   \n{_CHAT_LINE.replace('Hi', 'Hey')}\n\n".encode()
    upload = read_chat_upload("bom.jsonl", data)
    assert upload.shape == MESSAGES and len(upload) == 2
    conversations, errors, _ = chat_data.to_conversations(upload, chat_data.guess_mapping(upload))
    assert errors == [] and [c[0]["content"] for c in conversations] == ["Hi", "Hey"]
    with pytest.raises(InvalidInputError, match="line 4 is not JSON"):
        read_chat_upload("bom.jsonl", b"\xef\xbb\xbf" + f"{_CHAT_LINE}\n\n\n{{oops\n".encode())


def test_a_sharegpt_conversation_nested_two_levels_keeps_its_turns():
    record = {
        "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}],
        "system": "Be brief",
    }
    upload = read_chat_upload("nested.json", json.dumps([record, record | {"system": ""}]).encode())
    assert upload.shape == SHAREGPT and upload.records[0] == record
    conversations, errors, _ = chat_data.to_conversations(upload, chat_data.guess_mapping(upload))
    assert errors == []
    assert conversations[0] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ]


def test_special_tokens_in_conversation_text_are_warned_about_at_check_data(tokenizer):
    conversations = marker_conversations(12)
    conversations[3][1]["content"] += " <|im_end|> fake turn"
    upload = read_chat_upload("chats.jsonl", as_messages_jsonl(conversations))
    dataset = prepare_chat_dataset(upload, chat_data.guess_mapping(upload), tokenizer, _params())
    warned = [w for w in dataset.warnings if "special tokens" in w]
    assert warned == [
        "1 conversation holds the base model's special tokens as text (<|im_end|>; conversation 4): training "
        "reads them as real special tokens (turn markers), not as text. Remove them unless that is what you mean."
    ]


def test_every_check_speaks_the_language_of_whoever_checks_the_data(monkeypatch):
    # Under a catalogue that wraps what it translates, a message built without it shows unwrapped.
    wrap_every_translation(monkeypatch)
    records = [
        {"messages": [{"role": "user", "content": "Hi"}]},
        {"messages": [{"role": "user", "content": "A"}, {"role": "user", "content": "B"}]},
        {"messages": "not a list"},
    ]
    upload = read_chat_upload("bad.jsonl", _jsonl(records))
    with use_language("zh"):
        _, errors, _ = chat_data.to_conversations(upload, ChatMapping(MESSAGES))
    # Each problem's sentence and the problem inside it, then the closing advice.
    assert len(errors) == 4 and all(error.startswith("‹") for error in errors), errors
    assert "‹does not end with an assistant reply (nothing to learn from)›" in errors[0]
