"""Language honesty: the input's script, the languages a model handles, the notice beside an answer."""

from __future__ import annotations

import shutil

import pytest

from backend import model_registry
from backend.input_language import detect_language, handles, language_notice
from backend.jobs.store import SUCCEEDED, Job, JobStore, new_job_id
from backend.models.resolve import catalogue


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("质量太差了，用了两天就坏了", "zh"),
        ("I love this phone", "en"),
        ("医疗影像诊断 for hospitals", "zh"),  # four characters outweigh one English word
        ("東京の天気はどうですか", "ja"),
        ("안녕하세요", "ko"),
        ("12345 !?", None),
    ],
)
def test_the_language_is_read_from_the_script(text, language):
    assert detect_language(text) == language


def test_a_notice_only_when_the_model_lacks_the_language():
    assert handles(("en",), "en") and handles(("fr", "de"), "en")  # Latin script: any Latin language
    assert handles((), "zh")  # unknown languages: no claim either way
    notice = language_notice("质量太差了，用了两天就坏了", ("en",))
    assert notice is not None and "handles English only" in notice and "looks Chinese" in notice
    assert language_notice("质量太差了", ("en", "zh")) is None
    assert language_notice("great", ("zh",)).startswith("This model handles Chinese only; this text looks English")


def test_languages_come_from_the_catalogue_its_mirror_folder_or_a_tuned_models_base(settings):
    smol = "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert model_registry.languages_of(catalogue.TEXT_GENERATION, smol) == ("en",)
    folder = settings.models_dir / smol.replace("/", "--")
    assert model_registry.languages_of(catalogue.TEXT_GENERATION, str(folder)) == ("en",)
    assert model_registry.languages_of(catalogue.TEXT_GENERATION, str(settings.models_dir / "hand-placed")) == ()

    store, job_id = JobStore(settings=settings), new_job_id()
    model_dir = settings.runs_dir / job_id / "model"
    model_dir.mkdir(parents=True)
    base = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    store.create(Job(job_id, "train", "text", str(model_dir.parent), base_model=base))
    store.claim(job_id)
    store.finish(
        job_id,
        SUCCEEDED,
        artefacts={"model_dir": str(model_dir), "model_task": catalogue.SENTIMENT, "base_model": base},
    )
    try:
        assert model_registry.languages_of(catalogue.SENTIMENT, str(model_dir)) == ("en",)
    finally:
        store.delete(job_id)
        shutil.rmtree(model_dir.parent, ignore_errors=True)


def test_a_downloaded_model_for_a_language_is_found_only_when_downloaded(settings):
    qwen = settings.models_dir / "Qwen--Qwen2.5-0.5B-Instruct"
    assert model_registry.downloaded_model_for(catalogue.TEXT_GENERATION, "zh", settings) is None
    qwen.mkdir(parents=True)
    (qwen / "config.json").write_text("{}")
    try:
        assert (
            model_registry.downloaded_model_for(catalogue.TEXT_GENERATION, "zh", settings)
            == "Qwen/Qwen2.5-0.5B-Instruct"
        )
    finally:
        shutil.rmtree(qwen)
