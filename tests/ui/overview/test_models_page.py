"""The Models page tells the truth about the hub and readiness; errors keep operator detail folded."""

from streamlit.testing.v1 import AppTest

from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")


def text_of(app: AppTest) -> str:
    return " ".join(str(block.value) for block in [*app.markdown, *app.caption, *app.info])


def _models_page() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page("pages/overview/models.py")
    return app.run()


def test_models_page_shows_offline_mode_and_every_model_state():
    app = _models_page()
    assert not app.exception
    hub_metric = next(m for m in app.metric if m.label == "Hugging Face Hub")
    assert hub_metric.value == "offline mode"  # the test session runs with LSM_OFFLINE=1
    columns = set(app.dataframe[0].value.columns)
    assert {"Downloaded", "On disk (MB)", "Can load now", "Loaded"} <= columns
    assert "no model is downloaded, and this app runs without the Hugging Face Hub" in text_of(app)
    text = " ".join(str(block.value) for block in app.markdown)
    assert "set `LSM_OFFLINE=1`" not in text and "already on" in text


def test_prepare_all_defaults_reports_what_is_not_ready_with_details_folded():
    app = _models_page()
    app.button(key="models.prepare_all").click().run()
    assert not app.exception
    errors = " ".join(e.value for e in app.error)
    assert "Sentiment: not ready · download: No model is downloaded" in errors
    assert any("whoever runs this server" in e.label for e in app.expander)
    # The finished bar counts what is ready, rather than "Done." above a column of failures.
    [bar] = app.get("progress")
    assert bar.proto.text == "0 of 5 demos ready."


def test_a_demo_whose_model_is_not_downloaded_says_what_to_do_in_the_app():
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page("pages/demos/sentiment.py")
    app.run()
    app.text_area(key="sentiment.text").input("I love this product").run()
    app.button(key="sentiment.run").click().run()
    assert not app.exception
    error = " ".join(e.value for e in app.error)
    assert "not downloaded" in error and "Models page" in error
    assert "python -m" not in error
    assert any("whoever runs this server" in e.label for e in app.expander)


def test_a_disabled_engine_is_listed_with_its_reason(tmp_path):
    import pytest

    pytest.importorskip("onnxruntime", reason="onnxruntime is in requirements-engines.txt")
    from backend.models.engines import engine_process

    # A real engine process that cannot load its model (no such file): it says so and is turned off.
    process = engine_process.EngineProcess("onnx", tmp_path / "model.onnx", 1, label="broken-model")
    with pytest.raises(engine_process.EngineFailure):
        process.start()
    try:
        app = _models_page()
        assert not app.exception
        table = next(frame.value for frame in app.dataframe if "last failure" in frame.value.columns)
        row = table[table["model"] == "broken-model"].iloc[0]
        assert row["status"] == "disabled" and row["engine"] == "ONNX Runtime"
        assert "could not load the model" in row["last failure"]
    finally:
        engine_process.forget(process)


def test_the_models_page_shows_each_checked_decision(monkeypatch, tmp_path, tiny_model_paths):
    from backend import config
    from backend.models.resolve import catalogue, engine_record
    from backend.models.resolve.plan import plan_load

    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    config.get_settings.cache_clear()
    settings = config.get_settings()
    folder = plan_load(catalogue.SENTIMENT, tiny_model_paths["sentiment"], settings).folder
    results = [
        engine_record.PathResult("torch-float32", True, seconds_per_item=0.01, speedup=1.0),
        engine_record.PathResult(
            "onnx", True, seconds_per_item=0.002, speedup=5.8, agreement="labels equal on 64 inputs"
        ),
        engine_record.PathResult("int8-dynamic", False, "crashed (SIGSEGV)"),
    ]
    decision = engine_record.EngineDecision(
        catalogue.SENTIMENT, "**bold** model", "onnx", "2026-12-07T05:00:00+00:00", engine_record.machine(), 64, results
    )
    engine_record.write_decision(decision, folder, settings)
    try:
        app = _models_page()
        assert not app.exception
        frame = next(d.value for d in app.dataframe if "Runs on" in d.value.columns)
        assert frame["Runs on"][0].startswith("ONNX Runtime, checked ") and "5.8x faster" in frame["Runs on"][0]
        assert frame["Model"][0] == "**bold** model"  # a cell, shown as text
        assert frame["Failed or refused"][0] == "torch dynamic int8: crashed (SIGSEGV)"
    finally:
        config.get_settings.cache_clear()
