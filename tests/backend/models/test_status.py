"""The Models page's catalogue rows: precision and weight memory as this machine will load them."""

import dataclasses

from backend.i18n import translated_headers, use_language
from backend.models import status
from backend.models.resolve import catalogue
from backend.models.status import catalogue_rows
from tests.support.translation_marks import wrap_every_translation


def test_rows_give_the_precision_and_memory_this_device_loads_each_model_with(settings):
    float32 = catalogue_rows(catalogue.SENTIMENT, dataclasses.replace(settings, cpu_bfloat16="off"))
    bfloat16 = catalogue_rows(catalogue.SENTIMENT, dataclasses.replace(settings, cpu_bfloat16="on"))
    assert [row["model"] for row in float32] == [spec.hub_id for spec in catalogue.models_for(catalogue.SENTIMENT)]
    assert {row["loads in"] for row in float32} == {"float32"}
    assert {row["loads in"] for row in bfloat16} == {"bfloat16"}
    for full, half in zip(float32, bfloat16, strict=True):
        assert half["weights (MB)"] < full["weights (MB)"]
    embeddings = catalogue_rows(catalogue.EMBEDDINGS, dataclasses.replace(settings, cpu_bfloat16="on"))
    assert {row["loads in"] for row in embeddings} == {"float32"}


def test_the_engine_table_is_said_in_the_readers_language(monkeypatch):
    from backend.models.engines import engine_process

    state = engine_process.EngineState("llama-cpp", "org/chat", "restarting", 42, 1, "it crashed", "cpu build")
    monkeypatch.setattr(engine_process, "engine_states", lambda: [state])
    [row] = status.engine_rows()
    # Every column the page shows is a marked header, and the status a translated word.
    assert set(row) == set(status.ENGINE_HEADERS) and row["status"] == "restarting"
    wrap_every_translation(monkeypatch)
    with use_language("zh"):
        [row] = status.engine_rows()
        headers = translated_headers([row])[0]
    assert row["status"] == "‹restarting›" and all(header.startswith("‹") for header in headers)
