"""The Models page's catalogue rows: precision and weight memory as this machine will load them."""

import dataclasses

from backend.models.resolve import catalogue
from backend.models.status import catalogue_rows


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
