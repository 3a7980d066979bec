"""A chat-tuning report that cannot mislead: too few held-out prompts, worse replies, the system prompt."""

from __future__ import annotations

import pytest

from backend.training.chat.card import build_chat_card
from backend.training.chat.data import ChatDataset
from backend.training.chat.params import ChatTuneParams
from backend.training.chat.report import MIN_HELD_OUT_PROMPTS, ChatReport, reply_overlap
from backend.training.chat.runner import trained_system_prompt


def _report(rows: list[dict[str, str]], before: float = 2.0, after: float = 1.5) -> ChatReport:
    return ChatReport(before, after, len(rows), 40, 1000, 50.0, 10, 100, "lora", side_by_side=rows)


def _row(reference: str, base: str, tuned: str) -> dict[str, str]:
    return {"prompt": "q", "reference": reference, "base": base, "tuned": tuned}


def test_reply_overlap_counts_words_and_chinese_characters():
    assert reply_overlap("We ship to Oslo", "we ship to oslo") == 1.0
    assert reply_overlap("banana", "We ship to Oslo") == 0.0
    assert reply_overlap("质量太差", "质量很好") == pytest.approx(0.5)
    assert reply_overlap("", "anything") == 0.0


def test_one_held_out_prompt_is_not_headlined_and_says_how_to_fix_it():
    report = _report([_row("yes we ship", "yes we ship", "yes we ship")])
    assert report.too_few_prompts
    [warning] = report.warnings()
    assert "too small" in warning and f"at least {MIN_HELD_OUT_PROMPTS}" in warning
    assert "Upload more conversations" in warning and "validation share" in warning


def test_a_better_loss_with_worse_replies_is_flagged_with_how_it_was_judged():
    rows = [_row("we ship to oslo in two days", "we ship to oslo", "sorry I cannot help")] * MIN_HELD_OUT_PROMPTS
    report = _report(rows, before=2.0, after=1.2)
    assert not report.too_few_prompts
    base, tuned = report.reply_scores()
    assert base > tuned == 0.0
    [warning] = report.warnings()
    assert "loss improved" in warning and "judged worse" in warning and "word overlap" in warning


def test_better_replies_or_a_worse_loss_raise_no_flag():
    better = [_row("we ship to oslo", "sorry", "we ship to oslo")] * MIN_HELD_OUT_PROMPTS
    assert _report(better).warnings() == []
    worse_everything = [_row("we ship to oslo", "we ship to oslo", "sorry")] * MIN_HELD_OUT_PROMPTS
    assert _report(worse_everything, before=1.0, after=1.5).warnings() == []  # loss got worse: no contradiction


def test_the_model_card_carries_the_warnings():
    report = _report([_row("yes", "yes", "no")])
    card = build_chat_card(ChatTuneParams(base_model="b"), ChatDataset([], []), report, "now", "CPU", "b")
    assert "**Warning:** The validation set is too small" in card


def test_the_trained_system_prompt_is_the_one_most_conversations_open_with():
    shop = {"role": "system", "content": "You are Acme's shop assistant."}
    talk = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert trained_system_prompt([[shop, *talk], [shop, *talk], talk]) == shop["content"]
    assert trained_system_prompt([talk, talk, [shop, *talk]]) == ""
    assert trained_system_prompt([]) == ""


def test_the_model_card_is_written_in_the_language_of_the_person_who_started_the_job():
    from backend.i18n import use_language

    report = _report([_row("yes", "yes", "no")])
    with use_language("zh"):
        card = build_chat_card(ChatTuneParams(base_model="b"), ChatDataset([], []), report, "now", "CPU", "b")
    assert "**警告:** 验证集太小，无法评判这次微调" in card
    assert "## 训练参数" in card and "| 损失 | 2.0000 | 1.5000 |" in card
    assert "Training parameters" not in card and "The validation set" not in card
