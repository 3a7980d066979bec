"""Chat tuning end to end through the real worker: a tiny Qwen2 model learns a rule from an upload.

Every reply in the upload starts with ``MARKER``. After a LoRA job run by the worker's job loop,
the tuned model starts its replies with it, in the job's report and in the Text generation demo's
own streaming path, and the base model does not.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import zipfile
from pathlib import Path

import pytest
import torch

from backend import model_registry, worker
from backend.errors import InvalidInputError, UnsafeModelError
from backend.inference import text_generation
from backend.inference.text_generation import ChatMessage, GenerationOptions
from backend.jobs.store import CANCELLED, QUEUED, SUCCEEDED, JobStore
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.training import export
from backend.training.chat import studio as chat_studio
from backend.training.chat.data import ChatMapping, read_chat_upload
from backend.training.chat.params import CHAT, FULL, ChatTuneParams
from backend.training.chat.report import side_by_side_table
from backend.training.classifier import studio as classifier_studio
from tests.support.chat_data import MARKER, MARKER_RUN, as_messages_jsonl, marker_conversations

PROMPTS = ["Describe the bank?", "Explain my order?", "What do you think of the weather?"]


def _params(base_model: str, **changes) -> ChatTuneParams:
    options = {**MARKER_RUN, "title": "Marker bot", "max_length": 128, "validation_fraction": 0.15, "report_prompts": 4}
    return ChatTuneParams(base_model, **{**options, **changes})


def _checked(base_model: str, settings, params: ChatTuneParams | None = None):
    upload = read_chat_upload("rule.jsonl", as_messages_jsonl(marker_conversations(48)))
    params = params or _params(base_model)
    return params, chat_studio.check_chat_data(upload, ChatMapping("messages"), params, "ann", settings)


@pytest.fixture(scope="module")
def tuned_job(base_model, tuning_settings):
    params, dataset = _checked(base_model, tuning_settings)
    job = chat_studio.submit_chat_job(params, dataset, owner="ann", settings=tuning_settings)
    assert (job.kind, job.task, job.method, job.status) == (CHAT, CHAT, "lora", QUEUED)
    status = worker.run_job(job.id, tuning_settings)
    done = JobStore(settings=tuning_settings).require(job.id)
    assert status == SUCCEEDED, done.error
    return done


def _greedy(model_ref: str, settings, prompt: str) -> str:
    # Exactly the demo's path: the loader and the streamed reply.
    loaded = load_model(catalogue.TEXT_GENERATION, model_ref, settings)
    stream = text_generation.stream_reply(
        loaded, [ChatMessage("user", prompt)], GenerationOptions(temperature=0, max_new_tokens=6), threading.Event()
    )
    return "".join(stream)


@pytest.mark.slow
def test_the_tuned_model_learns_the_rule_and_the_base_does_not(tuned_job, base_model, tuning_settings):
    report = chat_studio.load_report(tuned_job)
    assert report is not None and report.val_loss_after < report.val_loss_before - 1.0
    assert report.perplexity_after < report.perplexity_before
    table = side_by_side_table(report)
    assert len(table) == 4 and list(table.columns) == ["prompt", "reference", "base", "tuned"]
    assert all(reply.startswith(MARKER) for reply in table["tuned"])
    assert not any(reply.startswith(MARKER) for reply in table["base"])
    model_dir = tuned_job.artefacts["model_dir"]
    for prompt in PROMPTS:
        assert _greedy(model_dir, tuning_settings, prompt).startswith(MARKER)
        assert not _greedy(base_model, tuning_settings, prompt).startswith(MARKER)


@pytest.mark.slow
def test_the_live_view_has_curves_speed_and_a_finished_progress(tuned_job, tuning_settings):
    store = JobStore(settings=tuning_settings)
    names = [point["name"] for point in store.metric_history(tuned_job.id)]
    assert names.count("val_loss") >= 3 and names.count("train_loss") >= 5 and "tokens_per_second" in names
    assert tuned_job.step == tuned_job.total_steps > 0
    assert tuned_job.metrics["val_loss"] < tuned_job.metrics["val_loss_before"]
    assert [job.id for job in classifier_studio.list_jobs("ann", settings=tuning_settings)] == [tuned_job.id]


@pytest.mark.slow
def test_the_tuned_model_is_listed_for_its_owner_with_its_base(tuned_job, base_model, tuning_settings):
    listed = model_registry.list_local_models(catalogue.TEXT_GENERATION, "ann", tuning_settings)
    assert [(m.title, m.job_id) for m in listed] == [("Marker bot", tuned_job.id)]
    assert model_registry.list_local_models(catalogue.TEXT_GENERATION, "bob", tuning_settings) == []
    assert tuned_job.artefacts["base_model"] == base_model
    card = (Path(tuned_job.artefacts["model_dir"]) / "README.md").read_text(encoding="utf-8")
    assert "Marker bot" in card and "perplexity" in card and "LoRA adapters (rank 8" in card
    assert str(tuning_settings.models_dir) not in card  # the base is named by its place, not its server path


@pytest.mark.slow
def test_the_adapter_downloads_and_loads_on_its_base_like_the_merged_model(tuned_job, base_model, tuning_settings):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    archive = chat_studio.export_adapter_zip(tuned_job, tuning_settings)
    with zipfile.ZipFile(archive) as opened:
        names = sorted(Path(n).name for n in opened.namelist())
        config = json.loads(next(opened.read(n) for n in opened.namelist() if n.endswith("adapter_config.json")))
    assert names == ["README.md", "adapter_config.json", "adapter_model.safetensors"]
    assert config["base_model_name_or_path"] == "rule-base" and config["r"] == 8
    merged = export.export_model_zip(tuned_job, tuning_settings)
    with zipfile.ZipFile(merged) as opened:
        assert any(n.endswith("model.safetensors") for n in opened.namelist())
        assert any(n.endswith("chat_template.jinja") or n.endswith("tokenizer_config.json") for n in opened.namelist())
    base = AutoModelForCausalLM.from_pretrained(base_model)
    adapted = PeftModel.from_pretrained(base, tuned_job.artefacts["adapter_dir"]).eval()
    tuned = AutoModelForCausalLM.from_pretrained(tuned_job.artefacts["model_dir"]).eval()
    ids = torch.tensor([[1, 5, 9, 20, 33, 2]])
    with torch.inference_mode():
        assert torch.allclose(adapted(input_ids=ids).logits, tuned(input_ids=ids).logits, atol=1e-4)


def test_a_cancelled_chat_job_is_retried_with_its_data(base_model, tuning_settings, tmp_path):
    local = dataclasses.replace(tuning_settings, state_dir=tmp_path / "state")
    params, dataset = _checked(base_model, local)
    job = chat_studio.submit_chat_job(params, dataset, owner="ann", settings=local)
    JobStore(settings=local).request_cancel(job.id)
    assert worker.run_job(job.id, local) == CANCELLED
    retried = chat_studio.retry_chat_job(job.id, "ann", local)
    assert (retried.kind, retried.status, retried.params) == (CHAT, QUEUED, job.params)
    assert json.loads((Path(retried.run_dir) / "data" / "chat_dataset.json").read_text())["train"] == dataset.train
    # The retry reuses the first run's conversations (a hard link), and counts itself.
    assert (Path(retried.run_dir) / "data" / "chat_dataset.json").samefile(
        Path(job.run_dir) / "data" / "chat_dataset.json"
    )
    assert retried.dataset["retries"] == 1
    with pytest.raises(InvalidInputError):
        chat_studio.retry_chat_job(retried.id, "ann", local)  # still queued


def test_base_models_are_checked_before_anything_is_queued(tuned_job, tuning_settings):
    with pytest.raises(UnsafeModelError, match="not in your workspace"):
        chat_studio.check_chat_base(ChatTuneParams(tuned_job.artefacts["model_dir"]), "bob", tuning_settings)
    with pytest.raises(InvalidInputError, match="Full fine-tuning is offered for models up to"):
        chat_studio.check_chat_base(ChatTuneParams("Qwen/Qwen2.5-1.5B-Instruct", method=FULL), "ann", tuning_settings)


@pytest.mark.slow
def test_full_fine_tuning_of_a_small_model_saves_a_whole_model_and_no_adapter(base_model, tuning_settings, tmp_path):
    local = dataclasses.replace(tuning_settings, state_dir=tmp_path / "state")
    params, dataset = _checked(base_model, local, _params(base_model, method=FULL, epochs=2, report_prompts=1))
    job = chat_studio.submit_chat_job(params, dataset, owner="ann", settings=local)
    assert worker.run_job(job.id, local) == SUCCEEDED
    done = JobStore(settings=local).require(job.id)
    assert done.method == FULL and done.artefacts["adapter_dir"] == ""
    assert done.metrics["val_loss"] < done.metrics["val_loss_before"]
    assert (Path(done.artefacts["model_dir"]) / "model.safetensors").is_file()
    with pytest.raises(InvalidInputError, match="no adapter"):
        chat_studio.export_adapter_zip(done, local)
