"""The studio's "Chat model" job: upload, check with a preview in the model's template, queue; and a
finished job's report with base-vs-tuned replies and downloads."""

from __future__ import annotations

from backend import worker
from backend.jobs.store import JobStore
from backend.models.resolve import catalogue
from backend.training.chat import studio as chat_studio
from backend.training.chat.data import ChatMapping, read_chat_upload
from backend.training.chat.params import CHAT, CHAT_PARAM_RANGES, FULL, ChatTuneParams
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
    dataset = chat_studio.check_chat_data(upload, ChatMapping("messages"), params, "", state.settings)
    job = chat_studio.submit_chat_job(params, dataset, settings=state.settings)
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


def test_the_chat_form_draws_its_bounds_and_defaults_from_the_parameter_table(state, open_page):
    app = open_page(NEW_JOB)
    app.radio(key="finetune.task").set_value(CHAT).run()
    app.radio(key="finetune.chat.method").set_value(FULL).run()
    defaults = ChatTuneParams.defaults("any", FULL)
    for name, key in {
        "epochs": "epochs",
        "learning_rate": f"lr.{FULL}",
        "batch_size": "batch",
        "max_length": "max_length",
        "validation_fraction": "validation",
        "lora_rank": "rank",
        "lora_alpha": "alpha",
        "lora_dropout": "dropout",
        "report_prompts": "prompts",
        "seed": "seed",
    }.items():
        widget, bounds = app.number_input(key=f"finetune.chat.{key}"), CHAT_PARAM_RANGES[name]
        assert (widget.min, widget.max, widget.value) == (bounds.low, bounds.high, getattr(defaults, name)), name
    # Full fine-tuning has no adapters: their fields are shown greyed out.
    assert [app.number_input(key=f"finetune.chat.{key}").disabled for key in ("rank", "alpha", "dropout")] == [True] * 3
    assert app.text_input(key="finetune.chat.modules").disabled
    assert not app.number_input(key="finetune.chat.epochs").disabled


def test_a_new_file_starts_from_its_own_guessed_shape(state, open_page, tiny_model_paths):
    app = _chat_form(open_page, tiny_model_paths, as_messages_jsonl(marker_conversations(10)))
    app.selectbox(key="finetune.chat.shape").set_value("alpaca").run()
    table = b"question,answer\n" + b"".join(f"Q{i},A{i}\n".encode() for i in range(10))
    app.file_uploader(key="finetune.chat.file").set_value(("pairs.csv", table, "text/csv")).run()
    assert not app.exception
    assert app.selectbox(key="finetune.chat.shape").value == "table"
    assert app.selectbox(key="finetune.chat.prompt").value == "question"


def test_a_lone_surrogate_is_refused_in_words_at_check_data(state, open_page, tiny_model_paths):
    lone = '{"messages": [{"role": "user", "content": "Hi \\ud800"}, {"role": "assistant", "content": "Hello"}]}\n'
    data = as_messages_jsonl(marker_conversations(10)) + b"\n" + lone.encode()
    app = _chat_form(open_page, tiny_model_paths, data)
    app.button(key="finetune.chat.check").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "lone surrogate" in _text(app) and "Something went wrong" not in _text(app)
