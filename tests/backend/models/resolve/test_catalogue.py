import pytest

from backend.i18n import _, catalogues, use_language
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
    with pytest.raises(KeyError):
        catalogue.models_for("speech")


def _defaults() -> list[catalogue.ModelSpec]:
    return [spec for spec in catalogue.CATALOGUE if spec.default]


def test_every_model_in_the_catalogue_file_is_read_and_valid():
    tables = catalogue.CATALOGUE_PATH.read_text(encoding="utf-8").count("[[model]]")
    assert len(catalogue.read_catalogue()) == tables == len(catalogue.CATALOGUE) > 20
    spec = catalogue.translation_model("en", "zh")
    assert (spec.hub_id, spec.languages, spec.language_pair) == (
        "Helsinki-NLP/opus-mt-en-zh",
        ("en", "zh"),
        ("en", "zh"),
    )
    assert catalogue.default_model(catalogue.TEXT_GENERATION).cpu_dtype == "bfloat16"


_VALID_ROW = """
[[model]]
task = "sentiment"
hub_id = "someone/tiny-sentiment"
title = "Tiny sentiment"
params_millions = 4.5
languages = ["en"]
licence = "mit"
description = "A tiny test model."
"""


def test_a_valid_row_is_read_with_the_defaults_of_what_it_leaves_out(tmp_path):
    path = tmp_path / "catalogue.toml"
    path.write_text(_VALID_ROW, encoding="utf-8")
    (spec,) = catalogue.read_catalogue(path)
    assert spec == catalogue.ModelSpec(
        task="sentiment",
        hub_id="someone/tiny-sentiment",
        title="Tiny sentiment",
        params_millions=4.5,
        languages=("en",),
        licence="mit",
        description="A tiny test model.",
    )
    assert (spec.default, spec.cpu_dtype, spec.language_pair) == (False, "float32", ())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('task = "sentiment"', 'task = "speech"'), "unknown task 'speech'"),
        (("params_millions = 4.5", "params_millions = -1"), "params_millions must be a positive number"),
        (("params_millions = 4.5", 'params_millions = "big"'), "params_millions must be a positive number"),
        (('licence = "mit"', 'licence = "mit"\ncpu_dtype = "int3"'), "cpu_dtype must be one of"),
        (('licence = "mit"', 'licence = "mit"\nlanguage_pair = ["en", "zh"]'), "only a translation's"),
        (('licence = "mit"', 'licence = "mit"\ndefault = "yes"'), "default must be true or false"),
        (('licence = "mit"', 'licence = "mit"\nsize = 3'), "unknown keys ['size']"),
        (('title = "Tiny sentiment"\n', ""), "missing keys ['title']"),
        (('description = "A tiny test model."', 'description = ""'), "must be non-empty strings"),
        (('languages = ["en"]', "languages = [1]"), "lists of language codes"),
    ],
)
def test_an_invalid_row_is_refused_with_its_number_and_what_is_wrong(tmp_path, change, message):
    path = tmp_path / "catalogue.toml"
    path.write_text(_VALID_ROW + _VALID_ROW.replace("tiny-sentiment", "other").replace(*change), encoding="utf-8")
    with pytest.raises(ValueError, match="model 2 ") as refused:
        catalogue.read_catalogue(path)
    assert message in str(refused.value)


def test_a_model_listed_twice_for_one_task_is_refused(tmp_path):
    path = tmp_path / "catalogue.toml"
    path.write_text(_VALID_ROW * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        catalogue.read_catalogue(path)


def test_the_descriptions_in_the_file_are_extracted_for_translation_and_shown_translated():
    template = catalogues.extract()
    for spec in catalogue.CATALOGUE:
        locations = template[spec.description].locations
        assert ("data/models/catalogue.toml", _line_of(spec.description)) in locations
    with use_language("zh"):
        assert (
            _(catalogue.find_spec("HuggingFaceTB/SmolLM2-360M-Instruct").description) != "Compact English chat model."
        )


def _line_of(text: str) -> int:
    lines = catalogue.CATALOGUE_PATH.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)
