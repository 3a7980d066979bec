"""The sentiment page: examples, own text, result, notice, errors, local models, batch mode."""

import dataclasses
import json
import shutil
from types import SimpleNamespace

import pandas as pd

from backend import worker
from backend.errors import HubUnreachableError
from backend.inference import batch, sentiment
from backend.inference.footer import RunFooter
from backend.inference.sentiment import Classification, SentimentResult
from backend.inference.tables import TableRun
from backend.jobs import manage, supervisor
from backend.jobs.store import SUCCEEDED, Job, JobStore, new_job_id
from backend.models.resolve import catalogue
from tests.support import tiny_models
from tests.support.demo_pages import texts

PAGE = "pages/demos/sentiment.py"


def _result(text: str, truncated: bool = False) -> SentimentResult:
    return SentimentResult(
        classification=Classification(
            label="positive",
            score=0.91,
            scores={"negative": 0.04, "neutral": 0.05, "positive": 0.91},
            tokens=12,
            truncated=truncated,
        ),
        token_limit=512,
        footer=RunFooter(device="CPU (test)", model="org/stand-in", latency_ms=42.0, items=1, unit="text", tokens=12),
    )


def test_empty_state_and_bilingual_examples(open_page):
    app = open_page(PAGE)
    assert "Type a text and press **Analyse**" in texts(app, "info")
    labels = [button.label for button in app.button if button.key and button.key.startswith("sentiment.example.")]
    assert any("chinese" in label.lower() for label in labels) and any("review" in label.lower() for label in labels)


def test_clicking_a_chinese_example_classifies_it_and_shows_label_chart_and_footer(open_page, fake_model, monkeypatch):
    calls = []
    monkeypatch.setattr(sentiment, "classify_text", lambda loaded, text: calls.append((loaded, text)) or _result(text))
    app = open_page(PAGE)
    app.button(key="sentiment.example.2").click().run()
    assert not app.exception
    assert calls == [(fake_model, "这家餐厅的菜非常好吃，服务也很周到，下次还会再来！")]
    assert app.text_area(key="sentiment.text").value == calls[0][1]
    assert fake_model.requests == [("sentiment", "lxyuan/distilbert-base-multilingual-cased-sentiments-student")]
    assert "positive · 91.0%" in texts(app, "subheader")
    footer = texts(app, "caption")
    assert "CPU (test)" in footer and "42 ms" in footer and "1 text" in footer and "12 tokens" in footer
    assert len(app.get("plotly_chart")) == 1


def test_own_text_with_a_truncation_notice(open_page, fake_model, monkeypatch):
    calls = []
    monkeypatch.setattr(
        sentiment, "classify_text", lambda loaded, text: calls.append(text) or _result(text, truncated=True)
    )
    app = open_page(PAGE)
    app.text_area(key="sentiment.text").input("A very long review…").run()
    app.button(key="sentiment.run").click().run()
    assert calls == ["A very long review…"]
    assert "only its beginning was read" in texts(app, "warning")


def test_empty_text_gets_a_message_before_any_model_is_asked_for(open_page, no_model):
    app = open_page(PAGE)
    app.button(key="sentiment.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Type some text first." in texts(app, "warning")
    app.text_area(key="sentiment.text").input("  \n\t ").run()
    app.button(key="sentiment.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Type some text first." in texts(app, "warning")


def test_a_refused_text_takes_the_last_answer_away_and_says_why(open_page, fake_model, monkeypatch):
    monkeypatch.setattr(sentiment, "classify_text", lambda loaded, text: _result(text))
    app = open_page(PAGE)
    app.button(key="sentiment.example.0").click().run()
    assert "positive · 91.0%" in texts(app, "subheader")
    app.text_area(key="sentiment.text").input("x" * 20_000).run()
    app.button(key="sentiment.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "20,000 characters" in texts(app, "warning")
    # The answer to the example is not this text's answer; nor is the run an empty page to start on.
    assert texts(app, "subheader") == "" and len(app.get("plotly_chart")) == 0
    assert "Type a text and press" not in texts(app, "info")


def test_a_model_that_cannot_load_leaves_no_earlier_answer_under_its_error(open_page, fake_model, monkeypatch):
    monkeypatch.setattr(sentiment, "classify_text", lambda loaded, text: _result(text))
    app = open_page(PAGE)
    app.text_area(key="sentiment.text").input("Fine.").run()
    app.button(key="sentiment.run").click().run()
    assert "positive · 91.0%" in texts(app, "subheader")

    def unavailable(task: str, model_ref: str):
        raise HubUnreachableError("org/other is not downloaded.", "Download it first.")

    monkeypatch.setattr("pages.components.models.get_model", unavailable)
    app.button(key="sentiment.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "org/other is not downloaded." in texts(app, "error")
    assert texts(app, "subheader") == "" and "Type a text and press" not in texts(app, "info")


def test_default_model_offline_shows_the_runtimes_message(open_page):
    app = open_page(PAGE)
    app.button(key="sentiment.example.0").click().run()
    assert not app.exception
    message = texts(app, "error")
    # What to do in the app; offline mode is on, so it is never asked to be set.
    assert "is not downloaded" in message and "Models page" in message and "LSM_OFFLINE" not in message


def test_a_model_that_is_not_here_is_marked_with_what_to_do_before_anything_is_typed(open_page):
    app = open_page(PAGE)
    warning = texts(app, "warning")
    # Why, then the next step: no model of the list can answer in the test session (offline, none
    # downloaded), so the step is who can bring one, or the list's own folder choice.
    assert "is not downloaded" in warning
    assert "ask whoever runs it to download one" in warning and "“A model folder on this server…”" in warning


def test_a_folder_outside_the_models_folder_is_refused(open_page, tmp_path):
    app = open_page(PAGE)
    app.selectbox(key="sentiment.model").select("__local_folder__").run()
    app.text_input(key="sentiment.model_folder").input(str(tmp_path)).run()
    app.button(key="sentiment.example.1").click().run()
    assert not app.exception
    assert "outside the models folder" in texts(app, "error")


def test_an_embedding_model_typed_as_the_sentiment_model_is_refused_before_any_answer(open_page, tiny_model_paths):
    app = open_page(PAGE)
    app.selectbox(key="sentiment.model").select("__local_folder__").run()
    # A real classifier answers first: its answer must not stay under the refusal that follows.
    app.text_input(key="sentiment.model_folder").input(tiny_model_paths[catalogue.SENTIMENT]).run()
    app.button(key="sentiment.example.1").click().run()
    assert app.subheader
    app.text_input(key="sentiment.model_folder").input(tiny_model_paths[catalogue.EMBEDDINGS]).run()
    app.button(key="sentiment.example.1").click().run()
    assert not app.exception
    assert "no trained weights for sentiment" in texts(app, "error")
    assert not app.subheader and not app.get("plotly_chart")  # no label, no chart, no footer
    sidebar = " ".join(str(m.value) for m in app.sidebar.markdown)
    assert "embeddings" not in sidebar  # never listed as a loaded sentiment model


def test_a_fine_tuned_model_is_offered_by_title_and_job_id_and_runs_for_real(open_page, settings):
    # Recorded as the worker records it: a succeeded job naming its model folder.
    store = JobStore(settings=settings)
    job_id = new_job_id()
    folder = settings.runs_dir / job_id / "model"
    tiny_models.build_text_classifier(folder, labels=["billing", "bug", "praise"])
    store.create(Job(job_id, "train", "text", str(folder.parent), title="Support tickets"))
    store.claim(job_id)
    store.finish(job_id, SUCCEEDED, artefacts={"model_dir": str(folder), "model_task": catalogue.SENTIMENT})
    try:
        app = open_page(PAGE)
        picker = app.selectbox(key="sentiment.model")
        assert f"Support tickets · {job_id} · your model · downloaded" in picker.options
        assert not [option for option in picker.options if str(settings.state_dir) in option]
        picker.select(str(folder)).run()
        app.button(key="sentiment.example.3").click().run()
        assert not app.exception, [e.value for e in app.exception]
        [headline] = [h.value for h in app.subheader]
        assert headline.split(" · ")[0] in {"billing", "bug", "praise"}
        footer = texts(app, "caption")
        assert "1 text" in footer and f"Support tickets · {job_id}" in footer
        # The shared sidebar is drawn after the page, so it already lists the model just loaded.
        sidebar = " ".join(str(m.value) for m in app.sidebar.markdown)
        assert f"Support tickets · {job_id}" in sidebar
        assert str(settings.state_dir) not in footer + sidebar  # no server path is shown
    finally:
        store.delete(job_id)
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_batch_upload_becomes_a_job_whose_results_the_page_shows(open_page, monkeypatch):
    seen = {}

    def classify_table(loaded, frame, column, progress=None):
        seen.update(column=column, rows=len(frame))
        progress(2, 2)
        table = frame.assign(label=["positive", "negative"], note=["", ""])
        footer = RunFooter("CPU (test)", "org/stand-in", 10.0, 2, "text", 9)
        return TableRun(table=table, footer=footer, skipped=0)

    # The worker's side runs below in this process; no worker process is started for the page.
    monkeypatch.setattr(sentiment, "classify_table", classify_table)
    monkeypatch.setattr(batch, "load_model", lambda task, ref, settings: SimpleNamespace(model_ref=ref))
    monkeypatch.setattr(supervisor, "ensure_worker_running", lambda *args, **kwargs: False)
    app = open_page(PAGE)
    assert "Upload a table" in texts(app, "info")
    csv = "id,review\n1,great phone\n2,差评\n".encode()
    app.file_uploader(key="sentiment.batch_file").set_value(("reviews.csv", csv, "text/csv")).run()
    assert app.selectbox(key="sentiment.batch_column").value == "review"
    app.button(key="sentiment.batch_run").click().run()
    assert not app.exception
    job = batch.list_batch_jobs("", catalogue.SENTIMENT)[0]
    assert (job.status, job.title, job.dataset["items"]) == ("queued", "reviews.csv", 2)
    assert app.selectbox(key="sentiment.batch_job").value == job.id
    assert "Waiting for the worker" in texts(app, "info")
    assert seen == {}  # the page itself never ran the batch

    assert worker.run_job(job.id) == "succeeded"
    app.run()
    assert not app.exception
    assert seen == {"column": "review", "rows": 2}
    assert "2 texts" in texts(app, "caption")
    assert any(button.key == "sentiment.batch_download" for button in app.get("download_button"))


def test_a_bad_table_gets_a_message(open_page):
    app = open_page(PAGE)
    app.file_uploader(key="sentiment.batch_file").set_value(("empty.csv", b"review\n", "text/csv")).run()
    assert not app.exception
    assert "no data rows" in texts(app, "warning")


def test_a_failed_batch_offers_retry_which_queues_a_copy_and_picks_it(open_page, monkeypatch):
    monkeypatch.setattr(supervisor, "ensure_worker_running", lambda *args, **kwargs: False)
    request = batch.BatchRequest(catalogue.SENTIMENT, "org/stand-in", "review", "retry-me.csv")
    old = batch.submit_batch_job(request, pd.DataFrame({"review": ["great", "bad"]}))
    store = JobStore()
    store.claim(old.id)
    store.finish(old.id, "failed", error="Out of memory.")
    new_id = None
    try:
        app = open_page(PAGE)
        assert app.selectbox(key="sentiment.batch_job").value == old.id
        app.button(key=f"sentiment.batch_retry.{old.id}").click().run()
        assert not app.exception, [e.value for e in app.exception]
        new = batch.list_batch_jobs("", catalogue.SENTIMENT)[0]
        new_id = new.id
        assert new.id != old.id and (new.status, new.title, new.params) == ("queued", "retry-me.csv", old.params)
        assert store.require(old.id).status == "failed"
        assert app.selectbox(key="sentiment.batch_job").value == new.id
    finally:
        for job_id in (old.id, new_id):
            if job_id:
                manage.delete_job(job_id, "")


def test_an_english_only_model_marks_chinese_examples_and_warns_beside_a_chinese_answer(
    open_page, fake_model, monkeypatch
):
    monkeypatch.setattr(sentiment, "classify_text", lambda loaded, text: _result(text))
    app = open_page(PAGE)
    app.selectbox(key="sentiment.model").select("distilbert/distilbert-base-uncased-finetuned-sst-2-english").run()
    labels = {button.key: button.label for button in app.button if (button.key or "").startswith("sentiment.example.")}
    assert labels["sentiment.example.2"].endswith("not this model's language")  # the Chinese example
    assert not labels["sentiment.example.0"].endswith("not this model's language")
    app.button(key="sentiment.example.2").click().run()
    assert "handles English only" in texts(app, "warning") and "looks Chinese" in texts(app, "warning")
    app.button(key="sentiment.example.0").click().run()
    assert "handles English only" not in texts(app, "warning")


def test_labels_of_a_fine_tuned_model_are_drawn_as_typed_in_the_chart(open_page, fake_model, monkeypatch):
    # A fine-tuned model's labels come from its owner's table; plotly reads tick labels as HTML.
    scores = {"<a href='http://evil.example'>good</a>": 0.7, "<b>bad</b>": 0.3}
    result = dataclasses.replace(
        _result("x"), classification=dataclasses.replace(_result("x").classification, scores=scores)
    )
    monkeypatch.setattr(sentiment, "classify_text", lambda loaded, text: result)
    app = open_page(PAGE)
    app.text_area(key="sentiment.text").input("Fine.")
    app.button(key="sentiment.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert figure["data"][0]["y"] == ["&lt;b&gt;bad&lt;/b&gt;", "&lt;a href='http://evil.example'&gt;good&lt;/a&gt;"]
