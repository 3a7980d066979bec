"""The studio's "Chat model by preference" job: pairs uploaded, checked against the base model and
queued; bad pairs refused with their rows and nothing queued; and a finished job's report with
reward accuracy, margins and base-vs-tuned replies."""

from __future__ import annotations

import json

from backend import worker
from backend.jobs.store import JobStore
from backend.models.resolve import catalogue
from backend.training.common import PREFERENCE
from backend.training.preference import studio
from backend.training.preference.data import PreferenceMapping, rows_table
from backend.training.preference.params import PREFERENCE_PARAM_RANGES, PreferenceParams
from pages.components.chat_tuning import LOCAL_FOLDER
from tests.support.chat_data import marker_preference_rows

NEW_JOB = "pages/finetune/new_job.py"
JOBS = "pages/finetune/jobs.py"
KEY = "finetune.preference"


def _text(app) -> str:
    parts = [m.value for m in app.markdown] + [s.value for s in app.success] + [w.value for w in app.warning]
    parts += [e.value for e in app.error] + [i.value for i in app.info] + [c.value for c in app.caption]
    return " ".join(str(p) for p in parts)


def _jsonl(rows) -> bytes:
    return "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()


def _form(open_page, tiny_model_paths, data: bytes, name: str = "votes.jsonl"):
    app = open_page(NEW_JOB)
    app.radio(key="finetune.task").set_value(PREFERENCE).run()
    assert app.button(key=f"{KEY}.submit").disabled
    app.file_uploader(key=f"{KEY}.file").set_value((name, data, "application/octet-stream")).run()
    app.selectbox(key=f"{KEY}.base").set_value(LOCAL_FOLDER).run()
    app.text_input(key=f"{KEY}.base_folder").input(tiny_model_paths[catalogue.TEXT_GENERATION]).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_pairs_are_checked_against_the_base_model_and_queued(state, open_page, tiny_model_paths):
    app = _form(open_page, tiny_model_paths, _jsonl(marker_preference_rows(20)))
    assert [app.selectbox(key=f"{KEY}.{part}").value for part in ("prompt", "chosen", "rejected")] == [
        "prompt",
        "chosen",
        "rejected",
    ]
    app.button(key=f"{KEY}.check").click().run()
    assert not app.exception
    assert "17 training and 3 held-out pairs" in _text(app)
    app.text_input(key=f"{KEY}.title").input("House style").run()
    app.button(key=f"{KEY}.submit").click().run()
    jobs = JobStore(settings=state.settings).list_jobs()
    assert [(job.kind, job.title, job.method, job.status) for job in jobs] == [
        (PREFERENCE, "House style", "lora", "queued")
    ]
    assert state.worker_starts == ["start"] and "Job queued: House style" in _text(app)


def test_identical_and_empty_pairs_are_reported_with_their_rows_and_nothing_is_queued(
    state, open_page, tiny_model_paths
):
    rows = marker_preference_rows(12)
    rows[2]["rejected"] = rows[2]["chosen"]
    rows[5]["prompt"] = ""
    app = _form(open_page, tiny_model_paths, _jsonl(rows))
    app.button(key=f"{KEY}.submit").click().run()
    assert not app.exception
    text = _text(app)
    assert "have the same chosen and rejected reply (nothing to prefer) (row 3)" in text
    assert "have an empty prompt (row 6)" in text
    assert JobStore(settings=state.settings).list_jobs() == []


def test_a_csv_with_other_column_names_is_mapped_by_name(state, open_page, tiny_model_paths):
    rows = marker_preference_rows(12)
    table = "better,question,worse\n" + "".join(f"{r['chosen']},{r['prompt']},{r['rejected']}\n" for r in rows)
    app = _form(open_page, tiny_model_paths, table.encode(), "votes.csv")
    assert [app.selectbox(key=f"{KEY}.{part}").value for part in ("prompt", "chosen", "rejected")] == [
        "question",
        "better",
        "worse",
    ]
    app.button(key=f"{KEY}.check").click().run()
    assert not app.exception and "10 training and 2 held-out pairs" in _text(app)


def test_the_form_draws_its_bounds_and_defaults_from_the_parameter_table(state, open_page):
    app = open_page(NEW_JOB)
    app.radio(key="finetune.task").set_value(PREFERENCE).run()
    defaults = PreferenceParams.defaults("any")
    for name, key in {"epochs": "epochs", "beta": "beta", "max_length": "max_length", "lora_rank": "rank"}.items():
        widget, bounds = app.number_input(key=f"{KEY}.{key}"), PREFERENCE_PARAM_RANGES[name]
        assert (widget.min, widget.max, widget.value) == (bounds.low, bounds.high, getattr(defaults, name)), name


def test_the_arena_source_says_when_there_are_no_votes_to_tune_on(state, open_page):
    app = open_page(NEW_JOB)
    app.radio(key="finetune.task").set_value(PREFERENCE).run()
    app.radio(key=f"{KEY}.source").set_value("arena").run()
    assert not app.exception
    said = " ".join(w.value for w in app.warning)
    assert "arena is not part of this installation" in said or "no preference pairs yet" in said
    assert app.button(key=f"{KEY}.submit").disabled


def test_a_finished_preference_job_shows_its_report(state, open_page, tiny_model_paths):
    params = PreferenceParams(
        tiny_model_paths[catalogue.TEXT_GENERATION],
        title="Tiny preference",
        epochs=1,
        max_length=64,
        report_prompts=2,
        report_max_new_tokens=8,
        validation_fraction=0.2,
    )
    frame = rows_table(marker_preference_rows(12))
    dataset = studio.check_preference_data(
        frame, PreferenceMapping("prompt", "chosen", "rejected"), params, "", state.settings
    )
    job = studio.submit_preference_job(params, dataset, settings=state.settings)
    assert worker.run_job(job.id, state.settings) == "succeeded"
    app = open_page(JOBS, {"job": job.id})
    assert not app.exception, [e.value for e in app.exception]
    text = _text(app)
    assert "Held-out prompts: base vs tuned" in text and "On 2 held-out pairs (beta 0.1)" in text
    # Two held-out pairs: no headline metrics, a warning saying so.
    assert not [m for m in app.metric if m.label == "Reward accuracy"]
    assert any("Only 2 held-out pair(s)" in w.value for w in app.warning)
    shares = app.dataframe[-2].value
    assert list(shares.columns) == ["measure", "share", "95% low", "95% high"] and len(shares) == 3
    table = app.dataframe[-1].value
    assert list(table.columns) == ["prompt", "chosen", "base", "tuned"] and len(table) == 2
