"""New training job page: upload, preview, mapping, checks with messages, submission."""

from __future__ import annotations

import pytest

from backend.jobs.store import JobStore
from backend.training.classifier import datasets, staging
from backend.training.classifier.datasets import TextLabelColumns
from backend.training.classifier.params import FAST, FULL, PARAM_RANGES, TEXT, default_params
from tests.support.training_data import colour_folders_zip, image_zip, learnable_texts

PAGE = "pages/finetune/new_job.py"


def _csv(frame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def _text(app) -> str:
    parts = [m.value for m in app.markdown] + [s.value for s in app.success] + [w.value for w in app.warning]
    parts += [e.value for e in app.error] + [i.value for i in app.info]
    return " ".join(str(p) for p in parts)


def test_page_asks_for_data_first(state, open_page):
    app = open_page(PAGE)
    assert "Upload your data to continue" in _text(app)
    assert app.button(key="finetune.submit").disabled


def test_table_is_previewed_mapped_by_guess_and_checked(state, open_page):
    frame = learnable_texts(per_class=20).rename(columns={"text": " Review ", "label": "Sentiment"})
    app = open_page(PAGE)
    app.file_uploader(key="finetune.table").set_value(("reviews.csv", _csv(frame), "text/csv")).run()
    assert not app.exception
    assert app.selectbox(key="finetune.text_column").value == "Review"
    assert app.selectbox(key="finetune.label_column").value == "Sentiment"
    assert "40 rows" in " ".join(c.value for c in app.caption)
    app.button(key="finetune.check").click().run()
    assert "2 classes, 32 training and 8 validation examples" in _text(app)


def test_bad_data_gets_its_message_and_queues_nothing(state, open_page):
    frame = learnable_texts(per_class=20)
    frame["label"] = "same"
    app = open_page(PAGE)
    app.file_uploader(key="finetune.table").set_value(("one.csv", _csv(frame), "text/csv")).run()
    app.button(key="finetune.submit").click().run()
    assert not app.exception
    assert "Only one class ('same')" in _text(app)
    assert JobStore(settings=state.settings).list_jobs() == []
    assert state.worker_starts == []


def test_wrong_encoding_is_reported_not_raised(state, open_page):
    app = open_page(PAGE)
    app.file_uploader(key="finetune.table").set_value(
        ("latin.csv", b"text,label\n" + bytes(range(128, 256)), "text/csv")
    ).run()
    assert not app.exception
    assert "not UTF-8, GB18030, Big5 or Shift-JIS" in _text(app)


def test_submit_queues_a_job_and_starts_a_worker(state, open_page, downloaded_bases):
    app = open_page(PAGE)
    app.file_uploader(key="finetune.table").set_value(
        ("reviews.csv", _csv(learnable_texts(per_class=20)), "text/csv")
    ).run()
    app.text_input(key="finetune.title").input("Support tickets").run()
    app.button(key="finetune.submit").click().run()
    assert not app.exception
    jobs = JobStore(settings=state.settings).list_jobs()
    assert [(job.title, job.status, job.method) for job in jobs] == [("Support tickets", "queued", "fast")]
    assert jobs[0].dataset["train_size"] == 32
    assert state.worker_starts == ["start"]
    assert app.session_state["finetune.selected_job"] == jobs[0].id
    assert "Job queued: Support tickets" in _text(app)


def test_image_zip_is_checked_and_hostile_zips_refused(state, open_page):
    app = open_page(PAGE)
    app.radio(key="finetune.task").set_value("image").run()
    app.file_uploader(key="finetune.zip").set_value(
        ("colours.zip", colour_folders_zip(per_class=6), "application/zip")
    ).run()
    app.button(key="finetune.check").click().run()
    assert "2 classes" in _text(app)
    slip = image_zip({"../../evil.png": b"x", "red/1.png": b"y"})
    app.file_uploader(key="finetune.zip").set_value(("slip.zip", slip, "application/zip")).run()
    app.button(key="finetune.check").click().run()
    assert not app.exception
    assert "tries to write outside its folder" in _text(app)


@pytest.fixture
def preparations(monkeypatch) -> list[TextLabelColumns]:
    """The mapping of every text-table preparation the page asks for."""
    calls: list[TextLabelColumns] = []
    real = datasets.prepare_text_dataset

    def counting(frame, mapping, *args, **kwargs):
        calls.append(mapping)
        return real(frame, mapping, *args, **kwargs)

    monkeypatch.setattr(datasets, "prepare_text_dataset", counting)
    return calls


def _upload_two_label_columns(app):
    frame = learnable_texts(per_class=20)
    frame["verdict"] = frame["label"].map({"positive": "good", "negative": "bad"})
    app.file_uploader(key="finetune.table").set_value(("reviews.csv", _csv(frame), "text/csv")).run()


def test_start_submits_the_checked_dataset_without_preparing_it_again(state, open_page, preparations, downloaded_bases):
    app = open_page(PAGE)
    _upload_two_label_columns(app)
    app.button(key="finetune.check").click().run()
    app.button(key="finetune.submit").click().run()
    assert not app.exception
    assert preparations == [TextLabelColumns("text", "label")]
    [job] = JobStore(settings=state.settings).list_jobs()
    assert job.dataset["label_column"] == "label" and job.dataset["train_size"] == 32


def test_start_checks_again_after_the_mapping_or_the_split_changed(state, open_page, preparations, downloaded_bases):
    app = open_page(PAGE)
    _upload_two_label_columns(app)
    app.button(key="finetune.check").click().run()
    app.selectbox(key="finetune.label_column").set_value("verdict").run()
    app.button(key="finetune.submit").click().run()
    assert not app.exception
    assert preparations == [TextLabelColumns("text", "label"), TextLabelColumns("text", "verdict")]
    app.slider(key="finetune.validation").set_value(0.5).run()
    app.button(key="finetune.submit").click().run()
    assert len(preparations) == 3
    newest, older = JobStore(settings=state.settings).list_jobs()
    assert (older.dataset["label_column"], older.dataset["class_names"]) == ("verdict", ["bad", "good"])
    assert (older.dataset["train_size"], newest.dataset["train_size"]) == (32, 20)


def test_refused_validation_table_keeps_the_job_from_starting(state, open_page):
    app = open_page(PAGE)
    app.file_uploader(key="finetune.table").set_value(
        ("reviews.csv", _csv(learnable_texts(per_class=20)), "text/csv")
    ).run()
    app.file_uploader(key="finetune.validation_table").set_value(("held.csv", b"text,label\na,b,c\n", "text/csv")).run()
    assert not app.exception
    assert "held.csv: line 2 has 3 fields" in _text(app)
    assert app.button(key="finetune.submit").disabled


@pytest.mark.parametrize("method", [FAST, FULL])
def test_parameter_bounds_are_the_ones_params_validate(state, open_page, method):
    app = open_page(PAGE)
    app.radio(key="finetune.method").set_value(method).run()
    keys = {
        "epochs": f"finetune.epochs.{method}",
        "learning_rate": f"finetune.lr.{method}",
        "batch_size": f"finetune.batch.{method}",
        "max_length": "finetune.max_length",
        "warmup_ratio": f"finetune.warmup.{method}",
        "weight_decay": "finetune.decay",
        "early_stopping_patience": "finetune.patience",
        "seed": "finetune.seed",
    }
    defaults = default_params(TEXT, method, "any")
    for name, key in keys.items():
        widget, bounds = app.number_input(key=key), PARAM_RANGES[name]
        assert (widget.min, widget.max, widget.value) == (bounds.low, bounds.high, getattr(defaults, name)), name
        if bounds.step is not None:
            assert widget.step == bounds.step, name
    slider, bounds = app.slider(key="finetune.validation"), PARAM_RANGES["validation_fraction"]
    assert (slider.min, slider.max, slider.step) == (bounds.low, bounds.high, bounds.step)
    assert set(keys) | {"validation_fraction"} == set(PARAM_RANGES)


def test_image_start_moves_the_checked_zip_without_checking_it_again(state, open_page, monkeypatch, downloaded_bases):
    checks: list[str] = []
    real = staging.prepare_image_dataset
    monkeypatch.setattr(
        staging, "prepare_image_dataset", lambda name, *a, **k: checks.append(name) or real(name, *a, **k)
    )
    app = open_page(PAGE)
    app.radio(key="finetune.task").set_value("image").run()
    app.file_uploader(key="finetune.zip").set_value(
        ("colours.zip", colour_folders_zip(per_class=6), "application/zip")
    ).run()
    app.button(key="finetune.check").click().run()
    app.button(key="finetune.submit").click().run()
    assert not app.exception
    assert checks == ["colours.zip"]
    # The checked images went into the first job; a second Start checks the zip again.
    app.button(key="finetune.submit").click().run()
    assert checks == ["colours.zip", "colours.zip"]
    assert len(JobStore(settings=state.settings).list_jobs()) == 2


def test_check_data_checks_the_base_model_too_and_queues_nothing(state, open_page):
    app = open_page(PAGE)
    app.file_uploader(key="finetune.table").set_value(
        ("reviews.csv", _csv(learnable_texts(per_class=20)), "text/csv")
    ).run()
    app.selectbox(key=f"finetune.base.{TEXT}.{FAST}").select("Local folder…").run()
    app.text_input(key="finetune.base_folder").input("no-such-base-model").run()
    app.button(key="finetune.check").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "No model folder" in _text(app)
    # The data is still checked and summarised, not as "usable" (that would read as ready to train),
    # and nothing is queued.
    assert "2 classes, 32 training and 8 validation examples" in _text(app)
    assert "training cannot start until the base model above can be used" in _text(app)
    assert "Data looks usable" not in _text(app)
    assert JobStore(settings=state.settings).list_jobs() == []
    assert state.worker_starts == []


def test_check_data_says_whether_the_base_model_can_be_loaded_here(state, open_page):
    app = open_page(PAGE)
    # The test session is offline and no base is downloaded: the picker says so before any upload.
    assert "None of the base models for this method in this list can be loaded" in _text(app)
    app.file_uploader(key="finetune.table").set_value(
        ("reviews.csv", _csv(learnable_texts(per_class=20)), "text/csv")
    ).run()
    app.button(key="finetune.check").click().run()
    assert not app.exception
    assert "is not downloaded, and this app runs without the Hugging Face Hub" in _text(app)


def test_base_pickers_mark_and_open_on_a_downloaded_base(state, open_page, downloaded_bases):
    app = open_page(PAGE)
    assert "None of the base models" not in _text(app)
    picker = app.selectbox(key="finetune.base.text.fast")
    assert picker.value is not None and "downloaded" in picker.format_func(picker.value)
    app.file_uploader(key="finetune.table").set_value(
        ("reviews.csv", _csv(learnable_texts(per_class=20)), "text/csv")
    ).run()
    app.button(key="finetune.check").click().run()
    assert f"Base model: {picker.value} is downloaded on this server." in _text(app)
