"""Other CPU engines (ONNX Runtime, CTranslate2): chosen by setting, exported once beside the
model, and giving torch float32's answers on a fixed set of inputs."""

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from backend.inference import sentiment, translation
from backend.models.engines import runtimes
from backend.models.fetch import packaged
from backend.models.loader import load_model
from backend.models.resolve import catalogue, engine_choice
from backend.models.resolve.plan import plan_load
from tests.support import tiny_models
from tests.support.packaged import require_packaged

TEXTS = [
    "I love this product, it works great.",
    "This is the worst service I have ever had.",
    "我非常喜欢这个产品，效果很好。",
    "Fraud detection in card payments uses machine learning, and so does credit scoring at most banks.",
    "ok",
]
# Scores from float32 torch and float32 ONNX Runtime differ only by summation order.
SCORE_TOLERANCE = 1e-4


def _torch(settings):
    return dataclasses.replace(settings, cpu_bfloat16="off", cpu_engine="")


def _engine(settings, choice):
    return dataclasses.replace(settings, cpu_engine=choice)


@pytest.fixture(scope="module")
def opus_translator(settings) -> Path:
    folder = settings.models_dir / "engines" / "opus-layout-translator"
    if not (folder / "config.json").is_file():
        tiny_models.build_opus_layout_translator(folder)
    return folder


@pytest.fixture(scope="module")
def own_sentiment(tiny_model_paths, settings) -> str:
    """A copy of the suite's tiny sentiment model: the export writes into the model's folder, and
    the shared one is also served by the local test hub, which must list only the model's files."""
    folder = settings.models_dir / "engines" / "sentiment-copy"
    if not (folder / "config.json").is_file():
        shutil.copytree(tiny_model_paths[catalogue.SENTIMENT], folder)
    return str(folder)


def test_the_setting_names_an_engine_per_task():
    assert engine_choice.requested_engines("sentiment=onnx, translation=ctranslate2") == {
        "sentiment": "onnx",
        "translation": "ctranslate2",
    }
    assert engine_choice.requested_engines("onnx") == {"sentiment": "onnx"}
    # An engine for a task it does not serve, or an unknown word, leaves torch.
    assert engine_choice.requested_engines("translation=onnx,sentiment=tensorrt,banana") == {}


def test_plans_use_the_engine_on_cpu_only_for_local_folders(own_sentiment, settings):
    chosen = _engine(settings, "sentiment=onnx")
    plan = plan_load(catalogue.SENTIMENT, own_sentiment, chosen)
    assert (plan.engine, plan.dtype, plan.int8) == ("onnx", "float32", False)
    assert plan.to_dict()["engine"] == "onnx"
    assert plan_load(catalogue.SENTIMENT, "acme/not-downloaded", chosen).engine == "torch"
    assert plan_load(catalogue.SENTIMENT, own_sentiment, settings).engine == "torch"


def test_onnx_sentiment_gives_torch_float32_scores(own_sentiment, settings):
    reference = load_model(catalogue.SENTIMENT, own_sentiment, _torch(settings))
    onnx = load_model(catalogue.SENTIMENT, own_sentiment, _engine(settings, "sentiment=onnx"))
    assert onnx.engine == "onnx" and onnx.memory_bytes > 0
    for batch_size in (1, 4):
        for ours, theirs in zip(
            sentiment.classify(onnx, TEXTS, batch_size), sentiment.classify(reference, TEXTS, batch_size), strict=True
        ):
            assert ours.label == theirs.label
            assert ours.tokens == theirs.tokens and ours.truncated == theirs.truncated
            assert max(abs(ours.scores[k] - theirs.scores[k]) for k in theirs.scores) < SCORE_TOLERANCE
    assert sentiment.classify_text(onnx, TEXTS[0]).footer.items == 1


def test_ctranslate2_greedy_translations_equal_torch_float32(opus_translator, settings):
    reference = load_model(catalogue.TRANSLATION, str(opus_translator), _torch(settings))
    ct2 = load_model(catalogue.TRANSLATION, str(opus_translator), _engine(settings, "translation=ctranslate2"))
    assert ct2.engine == "ctranslate2"
    for batch_size in (1, 3):
        ours = translation.translate(ct2, TEXTS, batch_size=batch_size)
        theirs = translation.translate(reference, TEXTS, batch_size=batch_size)
        assert [t.translation for t in ours] == [t.translation for t in theirs]
        assert [t.output_tokens for t in ours] == [t.output_tokens for t in theirs]
    # Beam search runs (CTranslate2's own beam search: not checked for equality).
    assert translation.translate_text(ct2, TEXTS[0], "en", "zh", num_beams=3).num_beams == 3


def test_a_model_the_engine_cannot_convert_runs_in_torch(tiny_model_paths, settings, caplog):
    # The suite's tiny translator keeps "<pad>" first, not last as OPUS-MT does: CTranslate2's
    # converter refuses it, and the demo must still answer.
    ref = tiny_model_paths[catalogue.TRANSLATION]
    loaded = load_model(catalogue.TRANSLATION, ref, _engine(settings, "translation=ctranslate2"))
    assert loaded.engine == "torch"
    assert translation.translate(loaded, TEXTS[:2])[0].output_tokens > 0
    assert "loading it in torch" in caplog.text


def test_the_export_is_made_once_and_again_when_the_weights_change(settings, tmp_path):
    folder = tiny_models.build_text_classifier(tmp_path / "classifier")
    chosen = _engine(dataclasses.replace(settings, models_dir=tmp_path), "sentiment=onnx")
    load_model(catalogue.SENTIMENT, str(folder), chosen)
    [copy] = (folder / runtimes.CACHE_FOLDER).iterdir()
    made = (copy / "model.onnx").stat().st_mtime_ns
    load_model(catalogue.SENTIMENT, str(folder), chosen)
    assert (copy / "model.onnx").stat().st_mtime_ns == made
    # New weights (a fine-tune saved over the folder): the stale copy is replaced, nothing is left over.
    weights = folder / "model.safetensors"
    os.utime(weights, ns=(made + 10**9, made + 10**9))
    load_model(catalogue.SENTIMENT, str(folder), chosen)
    assert [p.name for p in (folder / runtimes.CACHE_FOLDER).iterdir()] == [copy.name]
    assert (copy / "model.onnx").stat().st_mtime_ns != made


def test_the_export_keeps_the_weights_in_one_file_beside_the_graph(settings, tmp_path):
    # ONNX Runtime maps model.onnx.data into memory rather than reading a one-file model into a
    # buffer and copying each weight out of it (a load peak of ×1.7 the weights' size, RESULTS.md).
    import onnx

    folder = tiny_models.build_text_classifier(tmp_path / "classifier")
    chosen = _engine(dataclasses.replace(settings, models_dir=tmp_path), "sentiment=onnx")
    loaded = load_model(catalogue.SENTIMENT, str(folder), chosen)
    [copy] = (folder / runtimes.CACHE_FOLDER).iterdir()
    assert sorted(p.name for p in copy.iterdir()) == ["export.json", "model.onnx", runtimes.ONNX_WEIGHTS]
    graph = onnx.load(str(copy / "model.onnx"), load_external_data=False)
    outside = [t for t in graph.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert {entry.value for t in outside for entry in t.external_data if entry.key == "location"} == {
        runtimes.ONNX_WEIGHTS
    }
    # Only small tensors (up to 1 KiB) stay in the graph: the data file holds the float32 weights.
    assert max(len(t.raw_data) for t in graph.graph.initializer) <= 1024
    assert (copy / runtimes.ONNX_WEIGHTS).stat().st_mode == (copy / "model.onnx").stat().st_mode
    assert (copy / runtimes.ONNX_WEIGHTS).stat().st_size > 0.9 * (folder / "model.safetensors").stat().st_size
    assert loaded.memory_bytes == runtimes.cached_bytes(copy)
    assert sentiment.classify_text(loaded, TEXTS[0]).footer.items == 1


def test_a_copy_in_the_older_one_file_layout_is_made_again(settings, tmp_path):
    folder = tiny_models.build_text_classifier(tmp_path / "classifier")
    chosen = _engine(dataclasses.replace(settings, models_dir=tmp_path), "sentiment=onnx")
    load_model(catalogue.SENTIMENT, str(folder), chosen)
    [copy] = (folder / runtimes.CACHE_FOLDER).iterdir()
    # What an older version left: the same stamp without a format, the weights inside model.onnx.
    import onnx

    onnx.save_model(onnx.load(str(copy / "model.onnx")), str(copy / "model.onnx"))
    (copy / runtimes.ONNX_WEIGHTS).unlink()
    stamp = json.loads((copy / "export.json").read_text())
    del stamp["format"]
    (copy / "export.json").write_text(json.dumps(stamp))
    loaded = load_model(catalogue.SENTIMENT, str(folder), chosen)
    assert [p.name for p in (folder / runtimes.CACHE_FOLDER).iterdir()] == [copy.name]
    assert (copy / runtimes.ONNX_WEIGHTS).is_file()
    assert "format" in json.loads((copy / "export.json").read_text())
    assert sentiment.classify_text(loaded, TEXTS[0]).footer.items == 1


def test_a_failed_export_leaves_no_partial_copy(tmp_path):
    folder = tiny_models.build_text_classifier(tmp_path / "classifier")

    def broken(target: Path) -> None:
        target.mkdir()
        (target / "model.onnx").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        runtimes.cached_copy(folder, engine_choice.ONNX, broken)
    assert list((folder / runtimes.CACHE_FOLDER).iterdir()) == []


@pytest.mark.slow
@pytest.mark.torch_threads
def test_engines_on_the_real_architectures(settings):
    """The catalogue defaults' real architectures (random weights, benchmarks/standins.py):
    DistilBERT multilingual (119,547-token vocabulary) and OPUS-MT en→zh MarianMT."""
    from benchmarks.standins import prepare_model

    for task, choice in ((catalogue.SENTIMENT, "sentiment=onnx"), (catalogue.TRANSLATION, "translation=ctranslate2")):
        bench = prepare_model(task, settings, quick=True)
        reference = load_model(task, bench.hub_id, _torch(bench.settings))
        engine = load_model(task, bench.hub_id, _engine(bench.settings, choice))
        assert engine.engine == choice.split("=")[1]
        if task == catalogue.SENTIMENT:
            for ours, theirs in zip(
                sentiment.classify(engine, TEXTS), sentiment.classify(reference, TEXTS), strict=True
            ):
                assert ours.label == theirs.label
                assert max(abs(ours.scores[k] - theirs.scores[k]) for k in theirs.scores) < SCORE_TOLERANCE
        else:
            texts = [t for t in TEXTS if t.isascii()]
            ours = translation.translate(engine, texts, target_language="zh")
            theirs = translation.translate(reference, texts, target_language="zh")
            assert [t.translation for t in ours] == [t.translation for t in theirs]
        del reference, engine


@pytest.mark.real_weights
def test_onnx_export_on_real_weights_gives_the_same_sentence_embeddings(tmp_path):
    """all-MiniLM-L6-v2 (a BERT encoder, real weights) through the same export: embeddings within
    a cosine of 1e-5 of sentence-transformers' own (mean pooling, normalised)."""
    from sentence_transformers import SentenceTransformer

    source = require_packaged(packaged.MINILM_L6)
    folder = tmp_path / "minilm"  # the export cache goes beside this copy, not the shared mirror
    folder.mkdir()
    for item in source.iterdir():
        (folder / item.name).symlink_to(item, target_is_directory=item.is_dir())
    encoder, tokenizer = runtimes.onnx_encoder(folder)
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
    hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    theirs = SentenceTransformer(str(source), device="cpu", local_files_only=True).encode(
        TEXTS, convert_to_tensor=True, normalize_embeddings=True
    )
    cosine = (ours * theirs).sum(-1)
    assert cosine.min().item() > 1 - 1e-5, cosine.tolist()
