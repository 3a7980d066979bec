"""Translation on the tiny MarianMT model: its output is random text, so these tests check the
structure (splitting, batching, re-joining, decoding options, counts), not the words."""

import json

import pandas as pd
import pytest

from backend.errors import InvalidInputError
from backend.inference import translation


@pytest.fixture
def generate_calls(translation_model, monkeypatch):
    """Record every generate call's batch size and generation config, still running it for real."""
    calls = []
    real_generate = translation_model.model.generate

    def spy(**kwargs):
        calls.append(
            {"rows": kwargs["input_ids"].shape[0], "config": kwargs["generation_config"], "ids": kwargs["input_ids"]}
        )
        return real_generate(**kwargs)

    monkeypatch.setattr(translation_model.model, "generate", spy)
    return calls


def test_text_is_split_into_sentences_translated_in_batches_and_rejoined(translation_model, generate_calls):
    text = "Hello world. This is fine!\nLarge models are useful.\n\n我很喜欢。你呢？"
    progress = []
    result = translation.translate_text(
        translation_model, text, "en", "de", batch_size=2, progress=lambda d, t: progress.append((d, t))
    )
    assert [s.source for s in result.sentences] == [
        "Hello world.",
        "This is fine!",
        "Large models are useful.",
        "我很喜欢。",
        "你呢？",
    ]
    assert [call["rows"] for call in generate_calls] == [2, 2, 1]
    assert progress == [(2, 5), (4, 5), (5, 5)]
    lines = result.translation.split("\n")
    assert len(lines) == 4 and lines[2] == ""
    assert lines[0] == f"{result.sentences[0].translation} {result.sentences[1].translation}"
    assert result.footer.items == 5 and result.footer.unit == "sentence"
    assert result.footer.tokens == sum(s.source_tokens + s.output_tokens for s in result.sentences)
    json.dumps(result.to_dict())


def test_chinese_targets_are_joined_without_spaces(translation_model):
    result = translation.translate_text(translation_model, "One. Two.", "en", "zh")
    first, second = (s.translation for s in result.sentences)
    assert result.translation == first + second


def test_greedy_and_beam_search_options_reach_generate_without_changing_the_model(translation_model, generate_calls):
    shared_before = translation_model.model.generation_config.to_dict()
    greedy = translation.translate(translation_model, ["Hello world."], num_beams=1)
    beam = translation.translate(translation_model, ["Hello world."], num_beams=4)
    assert [call["config"].num_beams for call in generate_calls] == [1, 4]
    assert all(call["config"].do_sample is False for call in generate_calls)
    assert generate_calls[0]["config"] is not translation_model.model.generation_config
    assert translation_model.model.generation_config.to_dict() == shared_before
    assert greedy[0].output_tokens > 0 and beam[0].output_tokens > 0


def test_beam_search_result_says_so(translation_model):
    result = translation.translate_text(translation_model, "Hello.", "en", "fr", num_beams=3)
    assert result.decoding == "beam search" and result.num_beams == 3
    assert translation.translate_text(translation_model, "Hello.", "en", "fr").decoding == "greedy"


def test_a_sentence_over_the_token_limit_is_cut_with_a_notice(translation_model):
    # Byte-level BPE spends up to three tokens on an unseen Chinese character; no punctuation,
    # so the sentence stays whole until the 300-character segment limit.
    long_sentence = "机器翻译在英语和中文之间很有用" * 10
    result = translation.translate_text(translation_model, long_sentence, "zh", "en")
    assert any(s.truncated for s in result.sentences)
    assert all(s.source_tokens <= translation.token_limit(translation_model) for s in result.sentences)
    assert "cut" in result.notice


@pytest.mark.parametrize("beams", [0, 9, 2.0])
def test_bad_beam_counts_are_refused(translation_model, beams):
    with pytest.raises(InvalidInputError, match="Beams"):
        translation.translate(translation_model, ["Hi."], num_beams=beams)


def test_empty_text_is_refused(translation_model):
    with pytest.raises(InvalidInputError, match="empty"):
        translation.translate_text(translation_model, "   ", "en", "zh")


def test_translate_table_keeps_rows_and_counts_sentences(translation_model):
    frame = pd.DataFrame({"text": ["Hello. How are you?", "", "大模型正在改变各行各业。"], "id": ["a", "b", "c"]})
    run = translation.translate_table(translation_model, frame, "text", "en", batch_size=4)
    assert run.table["id"].tolist() == ["a", "b", "c"]
    assert run.table["sentences"].tolist()[0] == 2 and run.table["sentences"].tolist()[2] == 1
    assert run.skipped == 1 and run.footer.items == 3
    assert isinstance(run.table.loc[0, "translation"], str)


def test_multi_target_models_get_the_target_language_token(translation_model, generate_calls, monkeypatch):
    # opus-mt-en-zh serves several Chinese varieties and needs ">>cmn_Hans<<" before each sentence.
    tokenizer = translation_model.preprocessor
    monkeypatch.setattr(tokenizer, "supported_language_codes", [">>yue<<", ">>cmn_Hans<<"], raising=False)
    result = translation.translate_text(translation_model, "Hello world.", "en", "zh")
    sent = tokenizer.decode(generate_calls[0]["ids"][0], skip_special_tokens=True)
    assert sent == ">>cmn_Hans<< Hello world."
    assert result.sentences[0].source == "Hello world."


def test_single_target_models_get_no_language_token(translation_model, generate_calls):
    translation.translate_text(translation_model, "Hello world.", "en", "de")
    sent = translation_model.preprocessor.decode(generate_calls[0]["ids"][0], skip_special_tokens=True)
    assert sent == "Hello world."
