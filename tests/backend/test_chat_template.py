"""Chat templates render in a sandboxed helper with time, output and memory limits.

The three hostile templates of the last hostile-input round (an output bomb, a loop that never
ends, a sandbox escape) are refused in words, the helper lives on for the next model, and an
ordinary template renders exactly as transformers' ``apply_chat_template`` does.
"""

from __future__ import annotations

import copy
import time

import pytest
from transformers import AutoTokenizer

from backend import chat_template
from backend.errors import InvalidInputError, UnsafeModelError
from backend.models.resolve import catalogue

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi 你好"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "How are you?"},
]
OUTPUT_BOMB = "{% for i in range(100000) %}{{ 'X' * 100000 }}{% endfor %}"
ENDLESS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
ESCAPE = "{{ ''.__class__.__mro__[1].__subclasses__() }}"


@pytest.fixture(scope="module")
def tokenizer(tiny_model_paths):
    return AutoTokenizer.from_pretrained(tiny_model_paths[catalogue.TEXT_GENERATION])


def _with_template(tokenizer, template: str):
    hostile = copy.copy(tokenizer)
    hostile.chat_template = template
    return hostile


def test_an_ordinary_template_renders_as_transformers_renders_it(tokenizer):
    for prompt in (False, True):
        expected = tokenizer.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=prompt)
        assert chat_template.render_chat(tokenizer, CONVERSATION, prompt) == expected
    both = chat_template.render_chats(tokenizer, [CONVERSATION, CONVERSATION[:2]], [True, False])
    assert both[1] == tokenizer.apply_chat_template(CONVERSATION[:2], tokenize=False)


def test_an_output_bomb_is_stopped_at_its_cap_and_refused_in_words(tokenizer):
    with pytest.raises(UnsafeModelError) as refused:
        chat_template.render_chat(_with_template(tokenizer, OUTPUT_BOMB), CONVERSATION, model_name="bomb-model")
    assert "bomb-model's chat template wrote far more text than the conversation holds" in refused.value.message
    assert "refused" in refused.value.message


def test_a_loop_that_never_ends_is_stopped_at_its_time_limit(tokenizer, monkeypatch):
    monkeypatch.setattr(chat_template, "_BASE_SECONDS", 1.0)
    started = time.monotonic()
    with pytest.raises(UnsafeModelError) as refused:
        chat_template.render_chat(_with_template(tokenizer, ENDLESS), CONVERSATION, model_name="loop-model")
    assert "loop-model's chat template did not finish within 1 s" in refused.value.message
    assert time.monotonic() - started < 1.0 + chat_template._KILL_GRACE_SECONDS
    # The helper stopped the render itself and is still the warm one.
    assert chat_template.render_chat(tokenizer, CONVERSATION) == tokenizer.apply_chat_template(
        CONVERSATION, tokenize=False
    )


def test_a_sandbox_escape_is_refused_in_words(tokenizer):
    with pytest.raises(UnsafeModelError) as refused:
        chat_template.render_chat(_with_template(tokenizer, ESCAPE), CONVERSATION, model_name="escape-model")
    assert "escape-model's chat template tried something the template sandbox forbids" in refused.value.message


def test_one_huge_allocation_meets_the_memory_limit(tokenizer):
    with pytest.raises(UnsafeModelError) as refused:
        chat_template.render_chat(_with_template(tokenizer, "{{ 'X' * 10**10 }}"), CONVERSATION, model_name="m")
    assert "asked for more memory than a conversation needs" in refused.value.message


def test_a_template_that_refuses_the_conversation_says_why(tokenizer):
    template = "{{ raise_exception('Conversation roles must alternate user/assistant') }}"
    with pytest.raises(InvalidInputError) as refused:
        chat_template.render_chat(_with_template(tokenizer, template), CONVERSATION, model_name="strict")
    assert refused.value.message == (
        "strict's chat template refused a conversation: Conversation roles must alternate user/assistant"
    )


def test_a_helper_that_does_not_answer_is_killed_and_replaced(tokenizer, monkeypatch):
    monkeypatch.setattr(chat_template, "_KILL_GRACE_SECONDS", 0.5)
    request = {
        "template": ENDLESS,
        "variables": {},
        "conversations": [CONVERSATION],
        "prompts": [False],
        "seconds": 600,  # the helper's own timer would wait this long
    }
    before = chat_template._helper._start().pid
    assert chat_template._helper.ask(request, seconds=0.5) is None
    assert chat_template.render_chat(tokenizer, CONVERSATION, True).endswith(
        tokenizer.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)[-20:]
    )
    assert chat_template._helper._start().pid != before


def test_check_data_refuses_a_hostile_template_in_words(tokenizer):
    from backend.training.chat.data import guess_mapping, prepare_chat_dataset, read_chat_upload
    from backend.training.chat.params import ChatTuneParams
    from tests.support.chat_data import as_messages_jsonl, marker_conversations

    upload = read_chat_upload("chats.jsonl", as_messages_jsonl(marker_conversations(12)))
    with pytest.raises(UnsafeModelError) as refused:
        prepare_chat_dataset(
            upload,
            guess_mapping(upload),
            _with_template(tokenizer, OUTPUT_BOMB),
            ChatTuneParams("tiny"),
            model_name="tiny",
        )
    assert refused.value.message.startswith("tiny's chat template wrote far more text")


def test_many_conversations_are_rendered_in_chunks_in_order(tokenizer, monkeypatch):
    monkeypatch.setattr(chat_template, "_CHUNK", 2)
    conversations = [[{"role": "user", "content": f"Question {index}"}] for index in range(5)]
    rendered = chat_template.render_chats(tokenizer, conversations, [True, False, True, False, True])
    assert rendered == [
        tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=index % 2 == 0)
        for index, c in enumerate(conversations)
    ]
