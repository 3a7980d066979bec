"""plan_load: a model reference resolved once, without network, into what every loader uses."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket

import pytest

from backend.errors import ModelLoadError, ModelUnavailableError, ShowcaseError, UnsafeModelError
from backend.models import loader
from backend.models.cache import ModelCache
from backend.models.loader import load_for_training, load_model
from backend.models.resolve import catalogue, plan
from backend.models.resolve.device import DeviceInfo
from backend.models.resolve.plan import demo_dtype, plan_load

GPU = DeviceInfo("cuda", "cuda:0", "GPU", "bfloat16")
CPU = DeviceInfo("cpu", "cpu", "CPU", None)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("plan_load must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def float32(settings):
    return dataclasses.replace(settings, cpu_bfloat16="off")


def test_a_local_folder_is_planned_with_every_field(tiny_model_paths, float32, no_network):
    ref = tiny_model_paths[catalogue.SENTIMENT]
    planned = plan_load(catalogue.SENTIMENT, ref, float32, CPU)
    assert (planned.task, planned.ref, planned.is_local) == (catalogue.SENTIMENT, ref, True)
    assert planned.folder is not None and str(planned.folder) == planned.source
    assert (planned.folder / "config.json").is_file()
    assert planned.device == CPU
    assert (planned.dtype, planned.int8, planned.use_safetensors) == ("float32", False, True)
    assert planned.estimated_bytes == pytest.approx(
        load_model(catalogue.SENTIMENT, ref, float32).memory_bytes, rel=0.05
    )
    summary = json.loads(json.dumps(planned.to_dict()))
    assert summary["device"] == "CPU" and summary["dtype"] == "float32" and summary["folder"] == planned.source


def test_a_catalogue_hub_id_without_a_copy_is_planned_without_network(settings, no_network):
    spec = catalogue.default_model(catalogue.TEXT_GENERATION)
    planned = plan_load(catalogue.TEXT_GENERATION, spec.hub_id, settings, GPU)
    assert (planned.source, planned.is_local, planned.folder) == (spec.hub_id, False, None)
    assert planned.dtype == "bfloat16"
    # Vetted catalogue ids may fall back to .bin weights; nothing else may.
    assert planned.use_safetensors is None
    assert planned.estimated_bytes == spec.memory_mb("bfloat16") * 2**20


def test_an_unknown_hub_id_must_be_safetensors_and_has_no_estimate(settings, no_network):
    planned = plan_load(catalogue.SENTIMENT, "someone/unvetted", settings, CPU)
    assert planned.use_safetensors is True and planned.estimated_bytes == 0


def test_int8_loads_from_float32_and_training_never_quantises(tiny_model_paths, settings):
    int8 = dataclasses.replace(settings, cpu_quantize="int8", cpu_bfloat16="on")
    demo = plan_load(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT], int8, CPU)
    assert demo.int8 and demo.dtype == "float32"
    base = plan_load(
        catalogue.TEXT_CLASSIFIER_BASE, tiny_model_paths[catalogue.TEXT_CLASSIFIER_BASE], int8, GPU, training=True
    )
    assert not base.int8 and base.dtype == "float32"  # mixed precision is the trainer's business


def test_int8_chat_keeps_its_dtype_for_weight_only_int8(tiny_model_paths, settings):
    int8 = dataclasses.replace(settings, cpu_quantize="int8", cpu_bfloat16="on")
    chat = plan_load(catalogue.TEXT_GENERATION, tiny_model_paths[catalogue.TEXT_GENERATION], int8, CPU)
    assert chat.int8 and chat.dtype == "bfloat16"  # no float32 load: the int8 weights come from the file


def test_the_sidebar_dtype_is_the_one_demos_load_in(tiny_model_paths, settings, monkeypatch):
    from backend.models.resolve import device as device_module

    for preference, native in (("on", False), ("off", True), ("auto", True), ("auto", False)):
        monkeypatch.setattr(device_module, "cpu_computes_bfloat16", lambda native=native: native)
        chosen = dataclasses.replace(settings, cpu_bfloat16=preference)
        loaded = plan_load(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT], chosen, CPU)
        assert demo_dtype(CPU, chosen) == loaded.dtype
    assert demo_dtype(GPU, settings) == "bfloat16"


def _count_calls(monkeypatch, module, name: str) -> list:
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_the_cache_resolves_a_reference_once_and_reuses_its_device(tiny_model_paths, settings, monkeypatch):
    cache = ModelCache(10 * 2**20, settings=settings)
    resolved = _count_calls(monkeypatch, plan, "resolve_source")
    devices = _count_calls(monkeypatch, plan, "choose_device")
    weights = _count_calls(monkeypatch, plan, "require_safetensors")
    finds = _count_calls(monkeypatch, catalogue, "find_spec")
    ref = tiny_model_paths[catalogue.SENTIMENT]
    loaded = cache.get(catalogue.SENTIMENT, ref)
    assert loaded.device == cache.device
    assert (len(resolved), len(weights), len(devices), len(finds)) == (1, 1, 0, 0)
    cache.get(catalogue.SENTIMENT, ref)
    assert len(resolved) == 1  # a hit resolves nothing


def test_load_model_resolves_once(tiny_model_paths, settings, monkeypatch):
    resolved = _count_calls(monkeypatch, plan, "resolve_source")
    devices = _count_calls(monkeypatch, plan, "choose_device")
    load_model(catalogue.TRANSLATION, tiny_model_paths[catalogue.TRANSLATION], settings)
    assert (len(resolved), len(devices)) == (1, 1)


def _folder(settings, name: str, files: dict[str, bytes]) -> str:
    folder = settings.models_dir / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for file, content in files.items():
        (folder / file).write_bytes(content)
    return str(folder)


@pytest.mark.parametrize(
    ("make_ref", "error"),
    [
        (lambda s: "no-such-model", ModelUnavailableError),
        (lambda s: _folder(s, "no-config", {"model.safetensors": b"x"}), ModelUnavailableError),
        (lambda s: _folder(s, "pickled-only", {"config.json": b"{}", "pytorch_model.bin": b"x"}), UnsafeModelError),
        (lambda s: _folder(s, "no-weights", {"config.json": b"{}"}), ModelLoadError),
        (lambda s: "/etc", UnsafeModelError),
        (lambda s: "../../outside", UnsafeModelError),
        (lambda s: "org/has space", ModelUnavailableError),
        (lambda s: "", UnsafeModelError),
    ],
)
def test_bad_references_fail_at_planning_with_the_error_a_load_gives(make_ref, error, settings, no_network):
    ref = make_ref(settings)
    with pytest.raises(error) as planned:
        plan_load(catalogue.TEXT_CLASSIFIER_BASE, ref, settings)
    with pytest.raises(error) as loaded:
        load_model(catalogue.SENTIMENT, ref, settings)
    assert planned.value.user_text() == loaded.value.user_text()


def test_an_unknown_task_is_refused(settings, tiny_model_paths):
    with pytest.raises(ModelLoadError, match="Unknown task"):
        plan_load("speech", tiny_model_paths[catalogue.SENTIMENT], settings)


# --- load_for_training ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "preprocessor"),
    [(catalogue.TEXT_CLASSIFIER_BASE, "tokenizer"), (catalogue.IMAGE_CLASSIFIER_BASE, "image processor")],
)
def test_a_training_base_loads_in_float32_with_a_new_head(task, preprocessor, tiny_model_paths, settings):
    import torch

    classes = ["ant", "bee", "cat", "dog", "eel"]
    planned = plan_load(task, tiny_model_paths[task], settings, GPU, training=True)
    model, processor = load_for_training(planned, classes, settings)
    assert model.config.num_labels == 5
    assert model.config.id2label[4] == "eel" and model.config.label2id["ant"] == 0
    assert next(model.parameters()).dtype == torch.float32
    assert next(model.parameters()).device.type == "cpu"  # the trainer moves it
    assert ("Tokenizer" in type(processor).__name__) == (preprocessor == "tokenizer")


def test_training_and_inference_loads_fail_with_the_same_typed_messages(tiny_models_dir, settings):
    corrupt = settings.models_dir / "corrupt-base"
    shutil.rmtree(corrupt, ignore_errors=True)
    shutil.copytree(tiny_models_dir[catalogue.TEXT_CLASSIFIER_BASE], corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage")
    for ref, error in ((str(corrupt), ModelLoadError), ("acme/not-mirrored-base", ModelUnavailableError)):
        with pytest.raises(error) as training:
            load_for_training(plan_load(catalogue.TEXT_CLASSIFIER_BASE, ref, settings, training=True), ["a", "b"])
        with pytest.raises(error) as inference:
            load_model(catalogue.TEXT_CLASSIFIER_BASE, ref, settings)
        assert training.value.user_text() == inference.value.user_text()
        assert ("could not be read" if error is ModelLoadError else "is not downloaded") in training.value.message


def test_out_of_memory_while_loading_a_training_base_is_a_memory_error(tiny_model_paths, settings, monkeypatch):
    import transformers

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(transformers.AutoModelForSequenceClassification, "from_pretrained", out_of_memory)
    planned = plan_load(
        catalogue.TEXT_CLASSIFIER_BASE, tiny_model_paths["text-classifier-base"], settings, training=True
    )
    with pytest.raises(ShowcaseError, match="Not enough memory to load"):
        load_for_training(planned, ["a", "b"], settings)


def test_only_base_model_tasks_load_for_training(tiny_model_paths, settings):
    planned = plan_load(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT], settings)
    with pytest.raises(ValueError, match="not a fine-tuning base task"):
        loader.load_for_training(planned, ["a", "b"], settings)


# --- every path a loader reads stays inside the models folder -----------------------------------


def _copy_inside(settings, source: str, name: str):
    folder = settings.models_dir / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder)
    return folder


@pytest.mark.parametrize("linked", ["model.safetensors", "config.json", "tokenizer.json"])
def test_a_file_linking_out_of_the_models_folder_is_refused(linked, tiny_model_paths, settings, tmp_path):
    folder = _copy_inside(settings, tiny_model_paths[catalogue.SENTIMENT], "linked-file")
    outside = tmp_path / "elsewhere" / linked
    outside.parent.mkdir()
    (folder / linked).rename(outside)
    (folder / linked).symlink_to(outside)
    with pytest.raises(UnsafeModelError, match="links outside the models folder"):
        plan_load(catalogue.SENTIMENT, str(folder), settings)


def test_a_hub_ids_mirror_linking_out_of_the_models_folder_is_refused(tiny_model_paths, settings, tmp_path):
    outside = tmp_path / "elsewhere"
    shutil.copytree(tiny_model_paths[catalogue.SENTIMENT], outside)
    plan.mirror_folder("org/tiny-sentiment", settings).symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeModelError, match="outside the models folder"):
        plan_load(catalogue.SENTIMENT, "org/tiny-sentiment", settings)


def test_links_that_stay_inside_the_models_folder_are_followed(tiny_model_paths, settings):
    shared = _copy_inside(settings, tiny_model_paths[catalogue.SENTIMENT], "shared-weights")
    folder = _copy_inside(settings, tiny_model_paths[catalogue.SENTIMENT], "linked-inside")
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(shared / "model.safetensors")
    plan.mirror_folder("org/linked", settings).symlink_to(folder, target_is_directory=True)
    assert plan_load(catalogue.SENTIMENT, "org/linked", settings).folder == plan.mirror_folder("org/linked", settings)
    assert load_model(catalogue.SENTIMENT, "org/linked", settings).model is not None
