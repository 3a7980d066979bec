"""The studio's "Chat model" job: upload, check with a preview in the model's template, queue; and a
finished job's report with base-vs-tuned replies and downloads."""

from __future__ import annotations

from backend import worker
from backend.jobs.store import JobStore
from backend.models.resolve import catalogue
from backend.training import chat_jobs
from backend.training.chat_data import ChatMapping, read_chat_upload
from backend.training.chat_params import CHAT, ChatTuneParams
from pages.components.chat_tuning import LOCAL_FOLDER
from tests.support.chat_data import MARKER, as_messages_jsonl, marker_conversations

NEW_JOB = "pages/finetune/new_job.py"
JOBS = "pages/finetune/jobs.py"


def _text(app) -> str:
    parts = [m.value for m in app.markdown] + [s.value for s in app.success] + [w.value for w in app.warning]
    parts += [e.value for e in app.error] + [i.value for i in app.info] + [c.value for c in app.caption]
    parts += [c.value for c in app.code]
    return " ".join(str(p) for p in parts)


def _chat_form(open_page, tiny_model_paths, data: bytes):
    app = open_page(NEW_JOB)
    app.radio(key="finetune.task").set_value(CHAT).run()
    assert app.button(key="finetune.chat.submit").disabled
    app.file_uploader(key="finetune.chat.file").set_value(("chats.jsonl", data, "application/jsonl")).run()
    app.selectbox(key="finetune.chat.base").set_value(LOCAL_FOLDER).run()
    app.text_input(key="finetune.chat.base_folder").input(tiny_model_paths[catalogue.TEXT_GENERATION]).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_conversations_are_checked_previewed_in_the_models_template_and_queued(state, open_page, tiny_model_paths):
    app = _chat_form(open_page, tiny_model_paths, as_messages_jsonl(marker_conversations(20)))
    assert app.selectbox(key="finetune.chat.shape").value == "messages"
    app.button(key="finetune.chat.check").click().run()
    assert not app.exception
    text = _text(app)
    assert "18 training and 2 validation conversations" in text
    assert "<|im_start|>user" in text and f"{MARKER} " in text
    app.text_input(key="finetune.chat.title").input("Marker bot").run()
    app.button(key="finetune.chat.submit").click().run()
    jobs = JobStore(settings=state.settings).list_jobs()
    assert [(job.kind, job.title, job.method, job.status) for job in jobs] == [(CHAT, "Marker bot", "lora", "queued")]
    assert state.worker_starts == ["start"] and "Job queued: Marker bot" in _text(app)


def test_bad_conversations_are_reported_and_nothing_is_queued(state, open_page, tiny_model_paths):
    bad = b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Again"}]}\n' * 9
    app = _chat_form(open_page, tiny_model_paths, bad)
    app.button(key="finetune.chat.submit").click().run()
    assert not app.exception
    assert "two user turns in a row" in _text(app)
    assert JobStore(settings=state.settings).list_jobs() == []


def test_a_finished_chat_job_shows_its_report_and_downloads(state, open_page, tiny_model_paths):
    upload = read_chat_upload("c.jsonl", as_messages_jsonl(marker_conversations(16)))
    params = ChatTuneParams(
        tiny_model_paths[catalogue.TEXT_GENERATION],
        title="Tiny chat",
        epochs=1,
        max_length=64,
        report_prompts=2,
        report_max_new_tokens=8,
        validation_fraction=0.2,
    )
    dataset = chat_jobs.check_chat_data(upload, ChatMapping("messages"), params, "", state.settings)
    job = chat_jobs.submit_chat_job(params, dataset, settings=state.settings)
    assert worker.run_job(job.id, state.settings) == "succeeded"
    app = open_page(JOBS, {"job": job.id})
    assert not app.exception
    text = _text(app)
    assert "Held-out prompts: base vs tuned" in text and "after tuning, perplexity" in text
    # Two held-out prompts: no headline metrics, a warning saying the validation set is too small.
    assert not [m for m in app.metric if m.label in ("Validation loss", "Perplexity")]
    assert any("validation set is too small" in w.value for w in app.warning)
    table = app.dataframe[-1].value
    assert list(table.columns) == ["prompt", "reference", "base", "tuned"] and len(table) == 2
