"""The image page: sample photos, uploads, the top-5 chart, refused files, batch mode."""

import io
from types import SimpleNamespace

import pandas as pd
from PIL import Image

from backend import worker
from backend.errors import HubUnreachableError
from backend.inference import batch, image_classification
from backend.inference.footer import RunFooter
from backend.inference.image_classification import ImagePrediction, ImageResult, LabelScore
from backend.inference.tables import TableRun
from backend.jobs import supervisor
from backend.models.resolve import catalogue
from tests.support.demo_pages import texts

PAGE = "pages/demos/image_classification.py"


def _fake_classify(calls):
    def classify_image(loaded, image, name="image", top_k=5):
        calls.append((name, image.size))
        top = [LabelScore("tabby cat", 0.8), LabelScore("tiger cat", 0.1), LabelScore("lynx", 0.05)]
        footer = RunFooter("CPU (test)", "org/stand-in", 30.0, 1, "image")
        return ImageResult(ImagePrediction(name, image.width, image.height, top), footer)

    return classify_image


def _png(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "orange").save(buffer, "PNG")
    return buffer.getvalue()


def test_empty_state_and_bilingual_sample_buttons(open_page):
    app = open_page(PAGE)
    assert "Click a sample photo" in texts(app, "info")
    labels = {b.label for b in app.button if b.key and b.key.startswith("image_classification.example.")}
    assert labels >= {"Cat", "Coffee", "Rocket", "Astronaut"}


def test_clicking_a_sample_classifies_it_and_shows_the_top_labels(open_page, fake_model, monkeypatch):
    calls = []
    monkeypatch.setattr(image_classification, "classify_image", _fake_classify(calls))
    app = open_page(PAGE)
    app.button(key="image_classification.example.cat").click().run()
    assert not app.exception
    assert calls == [("cat.jpg", (451, 300))]
    assert fake_model.requests == [("image-classification", "facebook/convnext-tiny-224")]
    assert "tabby cat · 80.0%" in texts(app, "subheader")
    assert "30 ms" in texts(app, "caption") and "1 image" in texts(app, "caption")
    assert len(app.get("plotly_chart")) == 1


def test_a_model_that_cannot_load_leaves_no_earlier_answer_under_its_error(open_page, fake_model, monkeypatch):
    monkeypatch.setattr(image_classification, "classify_image", _fake_classify([]))
    app = open_page(PAGE)
    app.button(key="image_classification.example.cat").click().run()
    assert "tabby cat · 80.0%" in texts(app, "subheader")

    def unavailable(task: str, model_ref: str):
        raise HubUnreachableError("org/other is not downloaded.", "Download it first.")

    monkeypatch.setattr("pages.components.models.get_model", unavailable)
    app.button(key="image_classification.example.coffee").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "org/other is not downloaded." in texts(app, "error")
    # The cat's labels are not the coffee's answer, and the run is no empty page to start on either.
    assert texts(app, "subheader") == "" and len(app.get("plotly_chart")) == 0
    assert "Click a sample photo" not in texts(app, "info")


def test_an_uploaded_photo_is_classified(open_page, fake_model, monkeypatch):
    calls = []
    monkeypatch.setattr(image_classification, "classify_image", _fake_classify(calls))
    app = open_page(PAGE)
    app.radio(key="image_classification.source").set_value("Upload").run()
    app.file_uploader(key="image_classification.upload").set_value(("mine.png", _png(), "image/png")).run()
    app.button(key="image_classification.run").click().run()
    assert calls == [("mine.png", (64, 48))]


def test_a_file_that_is_not_an_image_is_refused_with_a_message(open_page, fake_model, monkeypatch):
    calls = []
    monkeypatch.setattr(image_classification, "classify_image", _fake_classify(calls))
    app = open_page(PAGE)
    app.radio(key="image_classification.source").set_value("Upload").run()
    app.file_uploader(key="image_classification.upload").set_value(("fake.png", b"<html>hi</html>", "image/png")).run()
    app.button(key="image_classification.run").click().run()
    assert not app.exception
    assert calls == []
    assert "not an image" in texts(app, "warning")


def test_real_tiny_classifier_on_a_sample(open_page, tiny_model_paths):
    app = open_page(PAGE)
    app.selectbox(key="image_classification.model").select("__local_folder__").run()
    app.text_input(key="image_classification.model_folder").input(tiny_model_paths["image-classification"]).run()
    app.button(key="image_classification.example.rocket").click().run()
    assert not app.exception, [e.value for e in app.exception]
    [headline] = [h.value for h in app.subheader]
    assert headline.split(" · ")[0] in {"cat", "dog", "bird", "car", "plane"}


def test_offline_default_model_shows_the_runtimes_message(open_page):
    app = open_page(PAGE)
    app.button(key="image_classification.example.coffee").click().run()
    assert not app.exception
    assert "is not downloaded" in texts(app, "error")


def test_a_batch_of_images_becomes_a_job_whose_table_the_page_shows(open_page, monkeypatch):
    seen = []

    def classify_files(loaded, files, progress=None):
        seen.extend(name for name, _ in files)
        progress(len(files), len(files))
        table = pd.DataFrame({"file": seen, "label": ["cat", None], "note": ["", "not an image"]})
        return TableRun(table, RunFooter("CPU (test)", "org/stand-in", 50.0, 1, "image"), skipped=1)

    # The worker's side runs below in this process; no worker process is started for the page.
    monkeypatch.setattr(image_classification, "classify_files", classify_files)
    monkeypatch.setattr(batch, "load_model", lambda task, ref, settings: SimpleNamespace(model_ref=ref))
    monkeypatch.setattr(supervisor, "ensure_worker_running", lambda *args, **kwargs: False)
    app = open_page(PAGE)
    uploads = [("a.png", _png(), "image/png"), ("b.png", b"text, not pixels", "image/png")]
    app.file_uploader(key="image_classification.batch_files").set_value(uploads).run()
    app.button(key="image_classification.batch_run").click().run()
    assert not app.exception
    job = batch.list_batch_jobs("", catalogue.IMAGE_CLASSIFICATION)[0]
    assert (job.status, job.dataset) == ("queued", {"rows": 2, "items": 1, "skipped": 1})
    assert "Waiting for the worker" in texts(app, "info")
    assert seen == []  # the page itself never ran the batch

    assert worker.run_job(job.id) == "succeeded"
    app.run()
    assert not app.exception
    assert seen == ["a.png", "b.png"]
    assert "1 row was skipped; the note column says why." in texts(app, "warning")
    assert any(b.key == "image_classification.batch_download" for b in app.get("download_button"))


def test_classify_without_an_image_asks_for_one_before_any_model_is_asked_for(open_page, no_model):
    app = open_page(PAGE)
    app.radio(key="image_classification.source").set_value("Upload").run()
    app.button(key="image_classification.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Pick, upload or take a photo first." in texts(app, "warning")
