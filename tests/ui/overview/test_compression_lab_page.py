"""The compression lab page: a run is queued from the page, and a finished run is drawn as a chart,
a table with its CSV, and a card and download per variant."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend import config, worker
from backend.inference import compression_lab
from backend.jobs.store import Job, JobStore, new_job_id
from backend.models.resolve import catalogue
from tests.support.paths import PROJECT_ROOT
from tests.support.tiny_models import IMAGE_LABELS
from tests.support.training_data import colour_image, image_zip

APP = str(PROJECT_ROOT / "app.py")


def _lab_page() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page("pages/overview/compression_lab.py")
    return app.run()


# Every path runs in a fresh interpreter of its own (torch imported each time): minutes, not seconds.
@pytest.mark.slow
def test_a_run_queued_from_the_page_is_measured_and_shown(monkeypatch, tmp_path, tiny_model_paths):
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LSM_WORKER_AUTOSTART", "0")
    config.get_settings.cache_clear()
    try:
        app = _lab_page()
        assert not app.exception
        assert any("No lab runs yet" in info.value for info in app.info)
        app.selectbox(key="lab.task").select(catalogue.IMAGE_CLASSIFICATION).run()
        app.text_input(key="lab.folder").input(tiny_model_paths[catalogue.IMAGE_CLASSIFICATION]).run()
        # The Compare view's labelled zip upload, read and checked as there (a non-image is left out).
        files = {f"{label}/{index}.png": colour_image(rgb, seed=index) for index in range(2)
                 for label, rgb in zip(IMAGE_LABELS[:2], ((200, 30, 30), (30, 30, 200)), strict=True)}  # fmt: skip
        files["notes.txt"] = b"not an image"
        zipped = ("set.zip", image_zip(files), "application/zip")
        app.file_uploader(key=f"lab.{catalogue.IMAGE_CLASSIFICATION}.labelled_zip").set_value(zipped).run()
        app.button(key="lab.start").click().run()
        assert not app.exception
        [job] = compression_lab.list_lab_jobs("")
        assert job.status == "queued" and job.params["task"] == catalogue.IMAGE_CLASSIFICATION
        truth = compression_lab.read_labelled(Path(job.run_dir)).truth
        assert sorted(truth) == sorted(IMAGE_LABELS[:2] * 2)
        assert worker.run_job(job.id, config.get_settings()) == "succeeded"
        app = _lab_page()
        assert not app.exception
        assert len(app.get("plotly_chart")) == 1
        frame = next(d.value for d in app.dataframe if "variant" in d.value.columns)
        assert list(frame["variant"]) == ["torch-float32", "torch-bfloat16", "int8-dynamic"]
        assert frame["passed"][0] and frame["agreement"][0] == "labels equal on 16 inputs"
        labels = [button.label for button in app.get("download_button")]
        assert labels.count("Card") == 3 and "Download the table (CSV)" in labels
        assert "Download the briefing (HTML)" in labels
        assert JobStore().get(job.id).metrics["variants"] == 3
        # Every variant scored on the four images, as the Compare view scores them.
        assert frame["accuracy"].between(0, 1).all() and "macro_f1" in frame.columns
        assert any("on your 4 labelled rows" in caption.value for caption in app.caption)
    finally:
        config.get_settings.cache_clear()


_TITLE_PAYLOAD = '<a href="http://evil.example/x">click</a> <b>bold</b>'


def test_a_fine_tuned_models_title_is_drawn_as_typed_in_the_chart(monkeypatch, tmp_path):
    # Plotly draws titles and hover text from an HTML subset: the owner's job title must not become
    # a link or styling there.
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LSM_WORKER_AUTOSTART", "0")
    config.get_settings.cache_clear()
    try:
        settings = config.get_settings()
        store = JobStore()
        tuned_id = new_job_id()
        store.create(Job(tuned_id, "train", "text", str(settings.runs_dir / tuned_id), title=_TITLE_PAYLOAD))
        lab_id = new_job_id()
        lab_dir = settings.runs_dir / lab_id
        lab_dir.mkdir(parents=True)
        row = {
            "variant": "torch-float32",
            "label": "float32",
            "passed": True,
            "p50_ms": 2.0,
            "p95_ms": 2.5,
            "weights_mb": 1.0,
        }
        result = {
            "task": catalogue.SENTIMENT,
            "model": str(settings.runs_dir / tuned_id),
            "machine": {"cpu": "test CPU"},
            "rows": [{**row, "speedup": 1.0, "agreement": "<i>labels</i> equal"}],
        }
        (lab_dir / compression_lab.RESULT_FILE).write_text(json.dumps(result), encoding="utf-8")
        (lab_dir / compression_lab.RESULT_CSV).write_bytes(b"variant\r\ntorch-float32\r\n")
        store.create(Job(lab_id, compression_lab.LAB, catalogue.SENTIMENT, str(lab_dir), title="lab"))
        store.finish(lab_id, "succeeded")
        app = _lab_page()
        assert not app.exception, [e.value for e in app.exception]
        figure = json.loads(app.get("plotly_chart")[0].proto.spec)
        title = figure["layout"]["title"]["text"]
        assert (
            title
            == f'&lt;a href="http://evil.example/x"&gt;click&lt;/a&gt; &lt;b&gt;bold&lt;/b&gt; · {tuned_id} on test CPU'
        )
        assert figure["data"][0]["hovertext"][0].endswith("<br>&lt;i&gt;labels&lt;/i&gt; equal")
    finally:
        config.get_settings.cache_clear()
