from backend.models.resolve import catalogue


def test_every_demo_task_has_exactly_one_default_except_translation():
    for task in catalogue.TASKS:
        defaults = [spec for spec in catalogue.models_for(task) if spec.default]
        if task == catalogue.TRANSLATION:
            assert {spec.language_pair for spec in defaults} == {("en", "zh"), ("zh", "en")}
        else:
            assert len(defaults) == 1, task
        assert catalogue.models_for(task)[0].default


def test_defaults_cover_english_and_chinese():
    for task in (catalogue.SENTIMENT, catalogue.TEXT_GENERATION, catalogue.EMBEDDINGS):
        languages = set(catalogue.default_model(task).languages)
        assert {"en", "zh"} <= languages, task


def test_demo_defaults_fit_community_cloud_memory_together():
    demo_tasks = {
        catalogue.SENTIMENT,
        catalogue.TRANSLATION,
        catalogue.IMAGE_CLASSIFICATION,
        catalogue.TEXT_GENERATION,
        catalogue.EMBEDDINGS,
    }
    total_mb = sum(spec.memory_mb() for spec in _defaults() if spec.task in demo_tasks)
    # 2.7 GB hosts: the defaults' weights stay well under it, leaving room for torch and Streamlit.
    assert total_mb < 2700
    assert all(spec.memory_mb() < 1100 for spec in _defaults())


def test_required_translation_directions_exist():
    for pair in [("en", "zh"), ("zh", "en"), ("en", "de"), ("en", "fr"), ("de", "en"), ("fr", "en")]:
        spec = catalogue.translation_model(*pair)
        assert spec is not None and spec.hub_id.endswith(f"{pair[0]}-{pair[1]}")
    assert catalogue.translation_model("en", "xx") is None


def test_memory_depends_on_dtype():
    spec = catalogue.default_model(catalogue.TEXT_GENERATION)
    assert spec.memory_mb("float32") == 2 * spec.memory_mb("bfloat16")
    assert spec.to_dict()["memory_mb"] == spec.memory_mb()


def test_unknown_task_is_refused():
    import pytest

    with pytest.raises(KeyError):
        catalogue.models_for("speech")


def _defaults() -> list[catalogue.ModelSpec]:
    return [spec for spec in catalogue.CATALOGUE if spec.default]
