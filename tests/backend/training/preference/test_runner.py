"""Preference tuning end to end through the real worker: a tiny Qwen2 model learns a synthetic
preference from uploaded pairs.

In every pair the chosen reply starts with ``MARKER`` and the rejected one is the same reply
without it. The base model finds the rejected reply likelier on the held-out pairs (it is shorter);
after a LoRA DPO job run by the worker, the tuned model finds the chosen one likelier on each of
them, and the report, the live view's curves, the recorded model and its card say so.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from backend import model_registry, worker
from backend.errors import InvalidInputError, UnsafeModelError
from backend.jobs.store import CANCELLED, QUEUED, SUCCEEDED, JobStore
from backend.models.resolve import catalogue
from backend.training.chat import studio as chat_studio
from backend.training.chat.params import FULL
from backend.training.classifier import studio as classifier_studio
from backend.training.common import PREFERENCE
from backend.training.preference import studio
from backend.training.preference.data import PreferenceMapping, read_preference_upload
from backend.training.preference.params import PreferenceParams
from backend.training.preference.report import accuracy_table, side_by_side_table
from tests.support.chat_data import MARKER, MARKER_RUN, marker_preference_rows


def _params(base_model: str, **changes) -> PreferenceParams:
    options = {
        **MARKER_RUN,
        "title": "Marker preferred",
        "max_length": 64,
        "validation_fraction": 0.25,
        "report_prompts": 3,
    }
    return PreferenceParams(base_model, **{**options, **changes})


def _checked(base_model: str, settings, params: PreferenceParams | None = None):
    upload = "\n".join(json.dumps(row, ensure_ascii=False) for row in marker_preference_rows(40)).encode()
    params = params or _params(base_model)
    frame = read_preference_upload("votes.jsonl", upload)
    mapping = PreferenceMapping("prompt", "chosen", "rejected")
    return params, studio.check_preference_data(frame, mapping, params, "ann", settings)


@pytest.fixture(scope="module")
def tuned_job(base_model, tuning_settings):
    params, dataset = _checked(base_model, tuning_settings)
    job = studio.submit_preference_job(params, dataset, owner="ann", settings=tuning_settings)
    assert (job.kind, job.task, job.method, job.status) == (PREFERENCE, PREFERENCE, "lora", QUEUED)
    status = worker.run_job(job.id, tuning_settings)
    done = JobStore(settings=tuning_settings).require(job.id)
    assert status == SUCCEEDED, done.error
    return done


@pytest.mark.slow
def test_the_tuned_model_prefers_the_chosen_replies_where_the_base_does_not(tuned_job):
    report = studio.load_report(tuned_job)
    assert report is not None and report.held_out_pairs == 10 and report.train_pairs == 30
    assert report.preference_accuracy_before == 0.0  # the base finds every rejected reply likelier
    assert report.preference_accuracy_after >= 0.9
    assert all(tuned > base for base, tuned in zip(report.base_margins, report.tuned_margins, strict=True))
    assert report.reward_accuracy == 1.0 and report.mean_reward_margin > 0.5
    assert report.warnings() == []
    table = accuracy_table(report)
    assert table["share"].tolist() == [0.0, report.preference_accuracy_after, 1.0]
    assert table["95% low"].iloc[2] > 0.6 and table["95% high"].iloc[0] < 0.4


@pytest.mark.slow
def test_the_report_shows_base_and_tuned_replies_to_held_out_prompts_side_by_side(tuned_job):
    table = side_by_side_table(studio.load_report(tuned_job))
    assert list(table.columns) == ["prompt", "chosen", "base", "tuned"] and len(table) == 3
    assert all(chosen.startswith(MARKER) for chosen in table["chosen"])
    assert not any(reply.startswith(MARKER) for reply in table["base"])


@pytest.mark.slow
def test_the_live_view_has_dpo_curves_and_a_finished_progress(tuned_job, tuning_settings):
    store = JobStore(settings=tuning_settings)
    names = [point["name"] for point in store.metric_history(tuned_job.id)]
    assert names.count("train_loss") >= 3 and names.count("val_loss") >= 2
    assert "reward_accuracy" in names and "val_reward_accuracy" in names
    assert tuned_job.step == tuned_job.total_steps > 0
    assert tuned_job.metrics["reward_accuracy"] == 1.0 and tuned_job.metrics["preference_accuracy_before"] == 0.0
    assert [job.id for job in classifier_studio.list_jobs("ann", settings=tuning_settings)] == [tuned_job.id]


@pytest.mark.slow
def test_the_tuned_model_is_recorded_for_its_owner_with_its_card_and_adapter(tuned_job, base_model, tuning_settings):
    listed = model_registry.list_local_models(catalogue.TEXT_GENERATION, "ann", tuning_settings)
    assert [(m.title, m.job_id) for m in listed] == [("Marker preferred", tuned_job.id)]
    assert model_registry.list_local_models(catalogue.TEXT_GENERATION, "bob", tuning_settings) == []
    assert tuned_job.artefacts["base_model"] == base_model
    card = (Path(tuned_job.artefacts["model_dir"]) / "README.md").read_text(encoding="utf-8")
    assert "Marker preferred" in card and "DPO" in card and "reward accuracy | 100%" in card
    assert str(tuning_settings.models_dir) not in card
    config = json.loads((Path(tuned_job.artefacts["adapter_dir"]) / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "rule-base" and config["r"] == 8
    assert chat_studio.export_adapter_zip(tuned_job, tuning_settings).is_file()


@pytest.mark.slow
def test_the_merged_model_scores_the_pairs_as_the_report_says(tuned_job, tuning_settings):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from backend.models.resolve.device import choose_device
    from backend.training.preference.data import PreferenceDataset, render_pairs
    from backend.training.preference.trainer import reply_log_probs

    model_dir = tuned_job.artefacts["model_dir"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    dataset = PreferenceDataset.load(Path(tuned_job.run_dir) / "data")
    scored = reply_log_probs(model, tokenizer, render_pairs(tokenizer, dataset.validation), 64, choose_device("cpu"))
    report = studio.load_report(tuned_job)
    assert [round(p.margin, 2) for p in scored] == pytest.approx([round(m, 2) for m in report.tuned_margins], abs=0.02)


def test_a_cancelled_preference_job_is_retried_with_its_pairs(base_model, tuning_settings, tmp_path):
    local = dataclasses.replace(tuning_settings, state_dir=tmp_path / "state")
    params, dataset = _checked(base_model, local, _params(base_model, epochs=1, report_prompts=0))
    job = studio.submit_preference_job(params, dataset, owner="ann", settings=local)
    JobStore(settings=local).request_cancel(job.id)
    assert worker.run_job(job.id, local) == CANCELLED
    assert not (Path(job.run_dir) / "model").exists()
    retried = studio.retry_preference_job(job.id, "ann", local)
    assert (retried.kind, retried.status, retried.params) == (PREFERENCE, QUEUED, job.params)
    stored = Path(retried.run_dir) / "data" / "preference_dataset.json"
    assert stored.samefile(Path(job.run_dir) / "data" / "preference_dataset.json")
    assert json.loads(stored.read_text())["train"][0] == dataclasses.asdict(dataset.train[0])
    with pytest.raises(InvalidInputError):
        studio.retry_preference_job(retried.id, "ann", local)  # still queued
    assert worker.run_job(retried.id, local) == SUCCEEDED


def test_base_models_are_gated_before_anything_is_read_or_queued(tuned_job, base_model, tuning_settings):
    anns_model = PreferenceParams(tuned_job.artefacts["model_dir"])
    with pytest.raises(UnsafeModelError, match="not in your workspace"):
        studio.check_preference_data(
            read_preference_upload("votes.csv", b"prompt,chosen,rejected\nq,a,b\n"),
            PreferenceMapping("prompt", "chosen", "rejected"),
            anns_model,
            "bob",
            tuning_settings,
        )
    with pytest.raises(UnsafeModelError, match="not in your workspace"):
        studio.check_preference_base(anns_model, "bob", tuning_settings)
    with pytest.raises(InvalidInputError, match="Full fine-tuning is offered for models up to"):
        studio.check_preference_base(
            PreferenceParams("Qwen/Qwen2.5-1.5B-Instruct", method=FULL), "ann", tuning_settings
        )
    store = JobStore(settings=tuning_settings)
    before = len(store.list_jobs(owner="bob"))
    with pytest.raises(UnsafeModelError):
        studio.submit_preference_job(
            PreferenceParams(tuned_job.artefacts["model_dir"]), _checked(base_model, tuning_settings)[1], "bob",
            tuning_settings,
        )  # fmt: skip
    assert len(store.list_jobs(owner="bob")) == before


def test_full_fine_tuning_of_a_small_model_saves_a_whole_model_and_no_adapter(base_model, tuning_settings, tmp_path):
    local = dataclasses.replace(tuning_settings, state_dir=tmp_path / "state")
    params = _params(base_model, method=FULL, epochs=2, learning_rate=1e-3, report_prompts=1)
    params, dataset = _checked(base_model, local, params)
    job = studio.submit_preference_job(params, dataset, owner="ann", settings=local)
    assert worker.run_job(job.id, local) == SUCCEEDED
    done = JobStore(settings=local).require(job.id)
    assert done.method == FULL and done.artefacts["adapter_dir"] == ""
    assert (Path(done.artefacts["model_dir"]) / "model.safetensors").is_file()
    report = studio.load_report(done)
    assert report.reward_accuracy > 0.5 and report.mean_reward_margin > 0
    with pytest.raises(InvalidInputError, match="no adapter"):
        chat_studio.export_adapter_zip(done, local)
