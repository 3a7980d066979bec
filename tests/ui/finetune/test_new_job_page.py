"""New training job page: upload, preview, mapping, checks with messages, submission."""

from __future__ import annotations

from backend.jobs.store import JobStore
from training_data import colour_folders_zip, image_zip, learnable_texts

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
    assert "not UTF-8 or GB18030" in _text(app)


def test_submit_queues_a_job_and_starts_a_worker(state, open_page):
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
