"""The compression lab as a job: every variant of a tiny classifier measured, carded and zipped."""

import dataclasses
import io
import uuid
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from backend import worker
from backend.errors import InvalidInputError
from backend.inference import compression_lab
from backend.jobs.progress import JobCancelled
from backend.jobs.store import JobStore
from backend.models.resolve import catalogue
from tests.support import tiny_models

# Every path runs in a fresh interpreter of its own (torch imported each time): minutes, not seconds.
pytestmark = pytest.mark.slow


@pytest.fixture
def lab_settings(local):
    return dataclasses.replace(local, cpu_engine="torch")


@pytest.fixture
def classifier(settings):
    return str(tiny_models.build_text_classifier(settings.models_dir / f"lab-{uuid.uuid4().hex[:8]}"))


def test_the_lab_measures_every_variant_with_cards_and_downloads(lab_settings, classifier):
    job = compression_lab.submit_lab_job(compression_lab.LabRequest(catalogue.SENTIMENT, classifier), "", lab_settings)
    assert worker.run_job(job.id, lab_settings) == "succeeded"
    job = JobStore(settings=lab_settings).get(job.id)
    lab = compression_lab.read_lab(job)
    rows = {row["variant"]: row for row in lab["rows"]}
    assert set(rows) == {"torch-float32", "torch-bfloat16", "int8-dynamic", "onnx", "onnx-int8"}
    reference, onnx = rows["torch-float32"], rows["onnx"]
    assert reference["passed"] and reference["speedup"] == 1.0 and reference["max_score_difference"] == 0
    assert onnx["passed"] and onnx["agreement"] == "labels equal on 64 inputs"
    for row in rows.values():
        assert row["weights_mb"] > 0 and 0 < row["p50_ms"] <= row["p95_ms"]
    table = pd.read_csv(io.BytesIO((Path(job.run_dir) / compression_lab.RESULT_CSV).read_bytes()))
    assert list(table["variant"]) == [row["variant"] for row in lab["rows"]]
    card, archive = compression_lab.variant_files(job, "onnx")
    assert "Agreement with float32: labels equal on 64 inputs" in card.read_text()
    assert {"model.onnx", "model.onnx.data"} <= set(zipfile.ZipFile(archive).namelist())
    card, archive = compression_lab.variant_files(job, "onnx-int8")  # its own copy, not the float32 one
    assert "model.onnx" in zipfile.ZipFile(archive).namelist()
    assert "model.onnx.data" not in zipfile.ZipFile(archive).namelist()
    card, archive = compression_lab.variant_files(job, "int8-dynamic")
    assert archive is None and "LSM_CPU_QUANTIZE=int8" in card.read_text()  # made at load time, named by its setting
    assert compression_lab.variant_files(job, "../../etc/passwd") == (None, None)


def test_a_lab_run_cancels_between_variants(lab_settings, classifier):
    job = compression_lab.submit_lab_job(compression_lab.LabRequest(catalogue.SENTIMENT, classifier), "", lab_settings)
    with pytest.raises(JobCancelled):
        compression_lab.LAB_HANDLER.run(job, should_stop=lambda: True, settings=lab_settings)
    assert compression_lab.read_lab(job) is None


def test_the_lab_refuses_what_it_cannot_measure(lab_settings, tiny_model_paths):
    request = compression_lab.LabRequest(catalogue.EMBEDDINGS, tiny_model_paths["embeddings"])
    with pytest.raises(InvalidInputError, match="The lab measures"):
        compression_lab.submit_lab_job(request, "", lab_settings)
    assert compression_lab.list_lab_jobs("", lab_settings) == []


@pytest.fixture
def chat_model(settings):
    # Widths of 256 take llama.cpp's K-quant blocks, so the 4-bit copy is really Q4_K (not a fallback type).
    folder = settings.models_dir / f"lab-chat-{uuid.uuid4().hex[:8]}"
    return str(tiny_models.build_chat_model_of(folder, "llama", hidden_size=256, intermediate_size=512))


def test_the_lab_makes_a_q4_k_m_copy_that_answers_and_measures_it(lab_settings, chat_model):
    import gguf

    from backend.inference import text_generation
    from backend.inference.chat_prompt import ChatMessage
    from backend.models.loader import load_from_plan
    from backend.models.resolve import engine_record
    from backend.models.resolve.plan import plan_load

    job = compression_lab.submit_lab_job(
        compression_lab.LabRequest(catalogue.TEXT_GENERATION, chat_model), "", lab_settings
    )
    assert worker.run_job(job.id, lab_settings) == "succeeded"
    job = JobStore(settings=lab_settings).get(job.id)
    rows = {row["variant"]: row for row in compression_lab.read_lab(job)["rows"]}
    assert set(rows) == {"torch-float32", "torch-bfloat16", "int8-weight-only", "llama.cpp", "gguf-q4_k_m"}
    q4, q8 = rows["gguf-q4_k_m"], rows["llama.cpp"]
    # Measured like every other variant: its size, load peak, tokens/s and next-token agreement.
    assert 0 < q4["weights_mb"] < q8["weights_mb"] and q4["tokens_per_s"] > 0 and q4["load_peak_mb"] >= 0
    assert 0 < q4["next_token_agreement"] <= 1 and q4["positions"] > 0
    # The file is a real Q4_K_M GGUF: llama.cpp's file type, and 4-bit K-quant blocks in it.
    _card, archive = compression_lab.variant_files(job, "gguf-q4_k_m")
    names = zipfile.ZipFile(archive).namelist()
    assert "model-q4_k_m.gguf" in names and "tokenizer/tokenizer.json" in names
    copy = next((Path(chat_model) / ".lsm-engines").glob("llama.cpp-*")) / "model-q4_k_m.gguf"
    reader = gguf.GGUFReader(copy)
    assert int(reader.fields["general.file_type"].parts[-1][0]) == gguf.LlamaFileType.MOSTLY_Q4_K_M
    assert gguf.GGMLQuantizationType.Q4_K in {tensor.tensor_type for tensor in reader.tensors}
    # It answers, loaded by its variant reference as a Compare column loads it.
    plan = plan_load(catalogue.TEXT_GENERATION, engine_record.variant_ref("gguf-q4_k_m", chat_model), lab_settings)
    assert (plan.engine, plan.variant) == ("llama.cpp", "gguf-q4_k_m")
    loaded = load_from_plan(plan, lab_settings)
    assert loaded.model.process.model_path == copy
    greedy = text_generation.GenerationOptions(temperature=0.0, top_p=1.0, max_new_tokens=8)
    stream = text_generation.stream_reply(loaded, [ChatMessage("user", "Hello there")], greedy)
    assert "".join(stream) and stream.result.new_tokens > 0


def test_a_labelled_set_scores_every_variant_as_compare_does(lab_settings, classifier):
    from backend.arena import compare
    from backend.inference import sentiment
    from backend.models.loader import load_model
    from backend.models.resolve import engine_record

    texts = ["great value", "awful service", "fine I guess", "loved it", "never again", "okay", "superb", "bad"]
    truth = ["LABEL_0", "LABEL_1", "LABEL_0", "LABEL_1", "LABEL_1", "LABEL_0", "LABEL_0", "LABEL_1"]
    job = compression_lab.submit_lab_job(
        compression_lab.LabRequest(catalogue.SENTIMENT, classifier),
        "",
        dataclasses.replace(lab_settings, lab_download_mb=0),  # nothing may be packed: each variant says so
        labelled=compression_lab.LabelledSet(texts, truth),
    )
    assert worker.run_job(job.id, dataclasses.replace(lab_settings, lab_download_mb=0)) == "succeeded"
    job = JobStore(settings=lab_settings).get(job.id)
    lab = compression_lab.read_lab(job)
    scores, _unknown = compare.score_outputs(lab["labelled"]["truth"], lab["labelled"]["outputs"], False)
    # Recomputed by hand: float32's own labels on the same texts, counted against the truth.
    predicted = [found.label for found in sentiment.classify(load_model(catalogue.SENTIMENT, classifier), texts)]
    by_hand = sum(p.casefold() == t.casefold() for p, t in zip(predicted, truth, strict=True)) / len(truth)
    assert lab["labelled"]["outputs"]["torch-float32"] == predicted
    assert scores["torch-float32"]["accuracy"] == pytest.approx(by_hand)
    assert scores["torch-float32"]["accuracy_low"] <= by_hand <= scores["torch-float32"]["accuracy_high"]
    assert set(scores) == {"torch-float32", "torch-bfloat16", "int8-dynamic", "onnx", "onnx-int8"}
    rows = {row["variant"]: row for row in compression_lab.with_scores(lab["rows"], scores)}
    card = compression_lab.card_text(compression_lab.LabRequest(catalogue.SENTIMENT, classifier), rows["onnx"], {})
    assert f"Accuracy on your labelled set: {scores['onnx']['accuracy']:.1%}" in card
    assert "more than this server packs for download (0 MB" in rows["onnx"]["download"]
    assert compression_lab.variant_files(job, "onnx")[1] is None
    # Each measured variant is offered to the Compare views, by a reference the loader plans.
    choices = compression_lab.variant_choices(catalogue.SENTIMENT, "", lab_settings)
    assert engine_record.variant_ref("onnx", classifier) in choices
    assert engine_record.variant_ref("torch-float32", classifier) not in choices


def test_a_labelled_set_is_checked_before_anything_is_queued(lab_settings, classifier, tiny_model_paths):
    request = compression_lab.LabRequest(catalogue.SENTIMENT, classifier)
    with pytest.raises(InvalidInputError, match="an input and a label on every row"):
        compression_lab.submit_lab_job(request, "", lab_settings, compression_lab.LabelledSet(["a", "b"], ["x"]))
    with pytest.raises(InvalidInputError, match="empty input or label"):
        compression_lab.submit_lab_job(request, "", lab_settings, compression_lab.LabelledSet(["a", " "], ["x", "y"]))
    too_many = compression_lab.LabelledSet(["a"] * 501, ["x"] * 501)
    with pytest.raises(InvalidInputError, match="at most 500"):
        compression_lab.submit_lab_job(request, "", lab_settings, too_many)
    chat = compression_lab.LabRequest(catalogue.TEXT_GENERATION, tiny_model_paths["text-generation"])
    with pytest.raises(InvalidInputError, match="scores classifiers and translators"):
        compression_lab.submit_lab_job(chat, "", lab_settings, compression_lab.LabelledSet(["a"], ["x"]))
    assert compression_lab.list_lab_jobs("", lab_settings) == []


def test_a_labelled_image_zip_scores_every_image_variant_as_compare_does(lab_settings, settings, tmp_path):
    from backend import uploads
    from backend.arena import compare
    from backend.inference import image_classification
    from backend.models.loader import load_model
    from backend.training.classifier import image_data
    from tests.support import training_data

    model = str(tiny_models.build_image_classifier(settings.models_dir / "lab-image", ["red", "blue"]))
    files = {f"{label}/{index}.png": training_data.colour_image(rgb, index) for index in range(3)
             for label, rgb in (("red", (220, 30, 30)), ("blue", (30, 30, 220)))}  # fmt: skip
    # The reader the page's upload goes through (as the Compare view's).
    kept, _layout, _warnings = image_data.read_labelled_images("set.zip", training_data.image_zip(files), tmp_path)
    names, truth = [path for path, _label in kept], [label for _path, label in kept]
    images = [(tmp_path / path).read_bytes() for path in names]
    request = compression_lab.LabRequest(catalogue.IMAGE_CLASSIFICATION, model)
    job = compression_lab.submit_lab_job(request, "", lab_settings, compression_lab.LabelledSet(names, truth, images))
    stored = sorted((Path(job.run_dir) / compression_lab.LABELLED_IMAGES).iterdir())
    assert [file.read_bytes() for file in stored] == images  # kept in the run folder, under the lab's own names
    assert worker.run_job(job.id, lab_settings) == "succeeded"
    lab = compression_lab.read_lab(JobStore(settings=lab_settings).get(job.id))
    scores, _unknown = compare.score_outputs(lab["labelled"]["truth"], lab["labelled"]["outputs"], False)
    # Recomputed by hand: float32's own labels on the same images, counted against the folders' labels.
    opened = [
        uploads.open_image(data, name, max_side=uploads.MODEL_IMAGE_SIDE)
        for data, name in zip(images, names, strict=True)
    ]
    loaded = load_model(catalogue.IMAGE_CLASSIFICATION, model)
    predicted = [found.label for found in image_classification.classify_images(loaded, opened, names)]
    by_hand = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    assert lab["labelled"]["truth"] == truth and lab["labelled"]["outputs"]["torch-float32"] == predicted
    assert scores["torch-float32"]["accuracy"] == pytest.approx(by_hand)
    assert len(scores) > 1  # the compressed variants are scored too
    rows = {row["variant"]: row for row in compression_lab.with_scores(lab["rows"], scores)}
    card = compression_lab.card_text(request, rows["torch-float32"], {})
    assert f"Accuracy on your labelled set: {by_hand:.1%}" in card


def test_an_image_set_goes_with_an_image_classifier_only(lab_settings, classifier, settings):
    model = str(tiny_models.build_image_classifier(settings.models_dir / "lab-image-check"))
    images = compression_lab.LabelledSet(["a.png"], ["red"], [b"not an image"])
    with pytest.raises(InvalidInputError, match="zip of labelled images"):
        compression_lab.submit_lab_job(
            compression_lab.LabRequest(catalogue.SENTIMENT, classifier), "", lab_settings, images
        )
    image_request = compression_lab.LabRequest(catalogue.IMAGE_CLASSIFICATION, model)
    with pytest.raises(InvalidInputError, match="zip of labelled images"):
        compression_lab.submit_lab_job(image_request, "", lab_settings, compression_lab.LabelledSet(["a"], ["x"]))
    with pytest.raises(InvalidInputError, match="a.png"):  # the upload reader's own refusal of a non-image
        compression_lab.submit_lab_job(image_request, "", lab_settings, images)
    assert compression_lab.list_lab_jobs("", lab_settings) == []
