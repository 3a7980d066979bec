"""Chat generation on the tiny Qwen2 model: streaming, stop, options per call, shared-model safety."""

import dataclasses
import json
import shutil
import threading
import time

import pandas as pd
import pytest
import torch

from backend.errors import InsufficientMemoryError, InvalidInputError
from backend.i18n import use_language
from backend.inference import chat_prompt, text_generation
from backend.inference.footer import RunFooter
from backend.inference.text_generation import ChatMessage, GenerationOptions
from backend.models.loader import load_model
from tests.support import tiny_models
from tests.support.translation_marks import wrap_every_translation

GREEDY = GenerationOptions(temperature=0, max_new_tokens=24)
PROMPTS = ["Hello there", "大模型正在改变各行各业。", "Fraud detection in card payments", "今天天气很好"]


@pytest.fixture(scope="module")
def varied_chat_model(settings):
    """The tiny chat model with larger random weights, so different prompts get different replies."""
    folder = settings.models_dir / "inference-tests" / "varied-chat"
    shutil.rmtree(folder, ignore_errors=True)
    tiny_models.build_chat_model(folder)
    # float32: with weights this large the logits are chaotic, and bfloat16's rounding (batched
    # generate's, not the single reply's float32 residual stream) would pick other tokens.
    loaded = load_model("text-generation", str(folder), dataclasses.replace(settings, cpu_bfloat16="off"))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in loaded.model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return loaded


def _reply(loaded, prompt, options=GREEDY, stop=None):
    stream = text_generation.stream_reply(loaded, [ChatMessage("user", prompt)], options, stop)
    chunks = list(stream)
    return chunks, stream.result


def test_reply_streams_in_chunks_that_add_up_to_the_result(varied_chat_model):
    chunks, result = _reply(varied_chat_model, "Hello there")
    assert len(chunks) > 1
    assert "".join(chunks) == result.text
    assert 0 < result.new_tokens <= GREEDY.max_new_tokens
    assert not result.stopped
    assert result.footer.tokens == result.new_tokens and result.footer.unit == "reply"
    assert result.tokens_per_second > 0
    json.dumps(result.to_dict())


def test_a_paced_reply_hands_over_the_first_text_and_the_end_at_once_and_loses_nothing(varied_chat_model):
    stream = text_generation.stream_reply(varied_chat_model, [ChatMessage("user", "Hello there")], GREEDY)
    started = time.monotonic()
    # A drawing time a minute away: everything after the first text comes with the end, at once.
    chunks = list(stream.paced(60.0))
    assert time.monotonic() - started < 30
    assert 1 <= len(chunks) <= 2
    assert "".join(chunks) == stream.result.text
    assert stream.result.new_tokens > 0 and not stream.result.stopped


def test_prompt_uses_the_chat_template(chat_model):
    tokenizer = chat_model.preprocessor
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hello")]
    expected = tokenizer.apply_chat_template(
        [m.to_dict() for m in messages], tokenize=False, add_generation_prompt=True
    )
    prepared = chat_prompt.prepare_prompt(chat_model, messages, 16)
    assert expected.endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(prepared.input_ids[0]) == expected
    assert prepared.prompt_tokens == prepared.input_ids.shape[-1]


def test_two_concurrent_greedy_generations_match_sequential_ones(varied_chat_model):
    sequential = [_reply(varied_chat_model, prompt)[1].text for prompt in PROMPTS]
    assert len(set(sequential)) > 1, "the prompts should get different replies for this test to mean anything"
    concurrent: dict[int, str] = {}
    barrier = threading.Barrier(len(PROMPTS))

    def worker(index: int) -> None:
        barrier.wait()
        concurrent[index] = _reply(varied_chat_model, PROMPTS[index])[1].text

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(PROMPTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [concurrent[i] for i in range(len(PROMPTS))] == sequential


def test_options_go_per_call_and_never_change_the_shared_model(varied_chat_model):
    shared = varied_chat_model.model.generation_config
    before = shared.to_dict()
    _reply(varied_chat_model, "Hello", GenerationOptions(temperature=1.3, top_p=0.5, max_new_tokens=5))
    assert shared.to_dict() == before
    config = text_generation.generation_config(varied_chat_model, GenerationOptions(1.3, 0.5, 5), 5)
    assert (config.do_sample, config.temperature, config.top_p, config.max_new_tokens) == (True, 1.3, 0.5, 5)
    greedy = text_generation.generation_config(varied_chat_model, GREEDY, 7)
    assert greedy.do_sample is False and greedy.max_new_tokens == 7
    assert config is not shared and greedy is not shared


def test_max_new_tokens_bounds_the_reply(varied_chat_model):
    _, result = _reply(varied_chat_model, "Hello", GenerationOptions(temperature=0, max_new_tokens=3))
    assert result.new_tokens == 3


def test_a_reply_cut_at_the_token_limit_says_so_and_one_that_ends_its_turn_does_not(varied_chat_model):
    _, cut = _reply(varied_chat_model, "Hello", GenerationOptions(temperature=0, max_new_tokens=3))
    assert cut.token_limit == 3
    assert cut.limit_note == "Stopped at the 3-token limit."
    assert cut.to_dict()["limit_note"] == cut.limit_note
    # A one-token reply whose token is made an end token: the model ended its turn right at the limit.
    one = GenerationOptions(temperature=0, max_new_tokens=1)
    prompt = chat_prompt.prepare_prompt(varied_chat_model, [ChatMessage("user", "Hello")], 1)
    with torch.inference_mode():
        config = text_generation.generation_config(varied_chat_model, one, 1)
        first = int(varied_chat_model.model.generate(input_ids=prompt.input_ids, generation_config=config)[0, -1])
    _, cut_at_one = _reply(varied_chat_model, "Hello", one)
    assert cut_at_one.token_limit == 1
    shared = varied_chat_model.model.generation_config
    ends = shared.eos_token_id
    shared.eos_token_id = [first, *(ends if isinstance(ends, list) else [ends])]
    try:
        _, ended = _reply(varied_chat_model, "Hello", one)
    finally:
        shared.eos_token_id = ends
    assert ended.new_tokens == 1 and ended.token_limit == 0 and ended.limit_note == ""


def test_a_reply_cut_by_the_end_of_the_context_says_that_rather_than_the_token_limit(varied_chat_model):
    messages = [ChatMessage("user", "Hello")]
    room = chat_prompt.prepare_prompt(varied_chat_model, messages, text_generation.MAX_NEW_TOKENS).max_new_tokens
    assert room < text_generation.MAX_NEW_TOKENS  # the tiny model's context is short
    _, result = _reply(varied_chat_model, "Hello", GenerationOptions(temperature=0, max_new_tokens=1024))
    # These seeded weights never write an end token: the reply fills the context.
    assert result.new_tokens == result.token_limit == room and result.limit_is_context
    assert result.limit_note == f"Stopped at the end of the model's context, after {room} new tokens."


def test_a_stopped_reply_is_not_said_to_have_reached_the_limit(varied_chat_model):
    stop = threading.Event()
    stop.set()
    _, result = _reply(varied_chat_model, "Hello", GenerationOptions(temperature=0, max_new_tokens=1), stop)
    assert result.stopped and result.token_limit == 0


def test_the_limit_note_is_in_the_readers_language(monkeypatch):
    footer = RunFooter("CPU", "org/chat", 100.0, 1, "reply", 256)
    result = text_generation.GenerationResult("We apologize for any", 10, 256, 1.0, 20.0, False, 0, False, footer)
    assert result.limit_note == ""
    result = dataclasses.replace(result, token_limit=1024)
    assert result.limit_note == "Stopped at the 1,024-token limit."
    wrap_every_translation(monkeypatch)
    with use_language("zh"):
        assert result.limit_note.startswith("‹") and result.limit_note.endswith("›")


def test_setting_the_stop_event_stops_generation_early(varied_chat_model):
    stop = threading.Event()
    stream = text_generation.stream_reply(
        varied_chat_model, [ChatMessage("user", "Hello")], GenerationOptions(temperature=0, max_new_tokens=200), stop
    )
    received = []
    for chunk in stream:
        received.append(chunk)
        stop.set()
    assert stream.result.stopped
    assert stream.result.new_tokens < 200


def test_abandoning_the_stream_stops_the_thread(varied_chat_model):
    stop = threading.Event()
    stream = text_generation.stream_reply(
        varied_chat_model, [ChatMessage("user", "Hello")], GenerationOptions(temperature=0, max_new_tokens=200), stop
    )
    iterator = iter(stream)
    next(iterator)
    iterator.close()  # what happens when a page rerun interrupts st.write_stream
    assert stop.is_set()
    assert not stream._thread.is_alive()


def test_old_turns_are_dropped_to_fit_the_context(chat_model):
    long_turn = "Large models are changing every industry. " * 12
    history = []
    for _ in range(4):
        history += [ChatMessage("user", long_turn), ChatMessage("assistant", long_turn)]
    history.append(ChatMessage("user", "And now?"))
    prepared = chat_prompt.prepare_prompt(chat_model, [ChatMessage("system", "Be brief."), *history], 32)
    assert prepared.dropped_messages > 0
    assert prepared.prompt_tokens + prepared.max_new_tokens <= chat_prompt.context_window(chat_model)
    decoded = chat_model.preprocessor.decode(prepared.input_ids[0])
    assert decoded.startswith("<|im_start|>system\nBe brief.") and "And now?" in decoded


def test_a_message_too_long_for_the_context_is_cut_with_a_notice(varied_chat_model):
    _, result = _reply(varied_chat_model, "金融风控和医疗诊断是人工智能的重要应用。" * 40)
    assert result.truncated_message and "cut" in result.notice
    assert result.prompt_tokens + result.new_tokens <= chat_prompt.context_window(varied_chat_model)


@pytest.mark.parametrize(
    "options", [GenerationOptions(temperature=-1), GenerationOptions(top_p=0), GenerationOptions(max_new_tokens=0)]
)
def test_bad_options_are_refused(chat_model, options):
    with pytest.raises(InvalidInputError):
        text_generation.stream_reply(chat_model, [ChatMessage("user", "Hi")], options)


def test_a_stopped_reply_is_the_open_turn_the_model_writes_on_from(chat_model):
    tokenizer = chat_model.preprocessor
    question = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hello")]
    asked = chat_prompt.prepare_prompt(chat_model, question, 16)
    continued = chat_prompt.prepare_prompt(chat_model, [*question, ChatMessage("assistant", "Hi there")], 16)
    # The template up to the start of a reply, then the reply so far: no end of turn, no new turn.
    assert tokenizer.decode(continued.input_ids[0]) == tokenizer.decode(asked.input_ids[0]) + "Hi there"
    assert continued.input_ids[0, : asked.prompt_tokens].tolist() == asked.input_ids[0].tolist()


def test_continuing_a_stopped_reply_writes_the_rest_of_that_reply(varied_chat_model):
    loaded, tokenizer = varied_chat_model, varied_chat_model.preprocessor
    question = [ChatMessage("user", "Hello there")]
    asked = chat_prompt.prepare_prompt(loaded, question, GREEDY.max_new_tokens)
    config = text_generation.generation_config(loaded, GREEDY, GREEDY.max_new_tokens)
    with torch.inference_mode():
        whole = loaded.model.generate(input_ids=asked.input_ids, generation_config=config)[0, asked.prompt_tokens :]
    ids = whole.tolist()
    # Cut where the text so far reads back as the same tokens (a random model writes odd bytes).
    cut = next(
        k
        for k in range(1, len(ids) - 1)
        if "\ufffd" not in (text := tokenizer.decode(ids[:k]))
        and tokenizer(text, add_special_tokens=False)["input_ids"] == ids[:k]
    )
    written = tokenizer.decode(ids[:cut])
    stream = text_generation.stream_reply(
        loaded,
        [*question, ChatMessage("assistant", written)],
        dataclasses.replace(GREEDY, max_new_tokens=len(ids) - cut),
    )
    rest = "".join(stream)
    # Greedy decoding from the open turn goes on exactly as the uninterrupted reply did; the
    # stream and its result hold only the new text.
    assert rest == stream.result.text == tokenizer.decode(ids[cut:])
    assert stream.result.new_tokens == len(ids) - cut


def test_conversation_must_end_with_the_user_or_a_reply_to_continue(chat_model):
    with pytest.raises(InvalidInputError, match="last message"):
        text_generation.stream_reply(chat_model, [ChatMessage("assistant", "Hi")], GREEDY)
    with pytest.raises(InvalidInputError, match="last message"):
        text_generation.stream_reply(
            chat_model,
            [ChatMessage("user", "Hi"), ChatMessage("assistant", "A"), ChatMessage("assistant", "B")],
            GREEDY,
        )
    with pytest.raises(InvalidInputError, match="empty"):
        text_generation.stream_reply(chat_model, [ChatMessage("user", "  ")], GREEDY)


def test_batched_generation_matches_single_replies(varied_chat_model):
    progress = []
    batched = text_generation.generate(
        varied_chat_model, PROMPTS, GREEDY, batch_size=3, progress=lambda d, t: progress.append((d, t))
    )
    assert [item.prompt for item in batched] == PROMPTS
    assert progress == [(3, 4), (4, 4)]
    for item in batched:
        assert item.reply == _reply(varied_chat_model, item.prompt)[1].text.strip()
        assert 0 < item.new_tokens <= GREEDY.max_new_tokens


@pytest.mark.parametrize("path", ["compact loop", "generate"])
def test_running_out_of_memory_while_generating_is_a_readable_error(chat_model, monkeypatch, path):
    def generate(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")

    if path == "compact loop":
        assert chat_model.decoder is not None
        monkeypatch.setattr(chat_model.decoder, "generate", generate)
    else:
        chat_model = dataclasses.replace(chat_model, decoder=None)
        monkeypatch.setattr(chat_model.model, "generate", generate)
    stream = text_generation.stream_reply(chat_model, [ChatMessage("user", "Hi")], GREEDY)
    with pytest.raises(InsufficientMemoryError, match="ran out of memory"):
        list(stream)


def test_generate_table_answers_each_row_and_refuses_long_tables(chat_model, monkeypatch):
    frame = pd.DataFrame({"prompt": ["Hello", "", "你好"]})
    run = text_generation.generate_table(
        chat_model, frame, "prompt", GenerationOptions(temperature=0, max_new_tokens=4)
    )
    assert run.skipped == 1
    assert run.footer.items == 2 and run.footer.unit == "prompt"
    assert run.footer.tokens == sum(int(n) for n in run.table["new_tokens"].dropna())
    monkeypatch.setattr(text_generation, "MAX_TABLE_ROWS", 2)
    with pytest.raises(InvalidInputError, match="takes up to 2"):
        text_generation.generate_table(chat_model, frame, "prompt", GREEDY)


@pytest.mark.parametrize(
    ("dropped", "cut", "english"),
    [
        (1, False, "The oldest message was left out to fit the model's context."),
        (3, True, "The 3 oldest messages were left out to fit the model's context. "
                  "Your message was too long for the model's context and was cut."),
    ],
)  # fmt: skip
def test_a_replys_notice_counts_in_the_readers_language(dropped, cut, english, monkeypatch):
    footer = RunFooter("CPU", "org/chat", 100.0, 1, "reply", 3)
    result = text_generation.GenerationResult("Hi.", 10, 3, 0.1, 20.0, False, dropped, cut, footer)
    assert result.notice == english
    wrap_every_translation(monkeypatch)
    with use_language("zh"):
        assert result.notice.startswith("‹") and result.notice.endswith("›")
