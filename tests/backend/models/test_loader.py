import dataclasses
import json
from pathlib import Path

import pytest
import torch

from backend.config import load_settings
from backend.errors import ModelLoadError, ModelUnavailableError, UnsafeModelError
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.models.resolve.plan import choose_dtype, mirror_folder, plan_load, resolve_source
from tests.support.local_hub import cache_repo


@pytest.mark.parametrize("task", list(catalogue.TASKS))
def test_every_task_loads_from_a_local_folder(task, tiny_model_paths, settings):
    loaded = load_model(task, tiny_model_paths[task], dataclasses.replace(settings, cpu_bfloat16="off"))
    assert loaded.device.kind == "cpu"
    assert loaded.dtype == "float32"
    assert loaded.memory_bytes > 0
    assert loaded.model_ref == tiny_model_paths[task]
    if task != catalogue.EMBEDDINGS:
        assert loaded.preprocessor is not None
        assert not loaded.model.training


def test_loaded_classifier_really_runs(tiny_model_paths, settings):
    loaded = load_model(catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT], settings)
    batch = loaded.preprocessor(["I love this product"], return_tensors="pt")
    with torch.inference_mode():
        logits = loaded.model(**batch).logits
    assert logits.shape == (1, 3)
    assert loaded.model.config.id2label[0] == "negative"


def test_relative_folder_names_resolve_inside_models_dir(tiny_model_paths, settings):
    source, is_local = resolve_source("tiny/sentiment", settings)
    assert is_local and Path(source) == Path(tiny_model_paths[catalogue.SENTIMENT]).resolve()


def test_hub_id_uses_offline_mirror_when_present(tiny_models_dir, settings):
    mirror = mirror_folder("acme/tiny-sentiment", settings)
    mirror.parent.mkdir(parents=True, exist_ok=True)
    if not mirror.exists():
        mirror.symlink_to(tiny_models_dir[catalogue.SENTIMENT], target_is_directory=True)
    source, is_local = resolve_source("acme/tiny-sentiment", settings)
    assert is_local and source == str(mirror)
    assert load_model(catalogue.SENTIMENT, "acme/tiny-sentiment", settings).memory_bytes > 0


@pytest.mark.parametrize("ref", ["../../etc", "/etc", "tiny/../../../etc", "", "a" * 500, "x\x00y"])
def test_references_leaving_the_models_folder_are_refused(ref, settings):
    with pytest.raises(UnsafeModelError):
        resolve_source(ref, settings)


def test_symlink_out_of_models_folder_is_refused(settings, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    link = settings.models_dir / "sneaky"
    if not link.exists():
        link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeModelError):
        resolve_source("sneaky", settings)


def test_missing_folder_says_what_to_do(settings):
    with pytest.raises(ModelUnavailableError) as caught:
        resolve_source("no-such-model", settings)
    assert "Models page" in caught.value.user_text()
    assert "python -m backend.models download" in caught.value.detail


def test_hub_id_offline_gives_the_offline_message(settings):
    with pytest.raises(ModelUnavailableError) as caught:
        load_model(catalogue.SENTIMENT, "acme/not-mirrored-model", settings)
    assert "without the Hugging Face Hub" in caught.value.user_text()
    assert "LSM_MODELS_DIR" in caught.value.detail
    assert str(settings.models_dir) not in caught.value.user_text() + caught.value.detail  # no server paths


def test_pickle_only_folder_is_refused(settings):
    folder = settings.models_dir / "pickled"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(UnsafeModelError) as caught:
        load_model(catalogue.SENTIMENT, "pickled", settings)
    assert "safetensors" in caught.value.user_text()


def test_corrupt_folder_gives_a_load_error(tiny_models_dir, settings):
    import shutil

    folder = settings.models_dir / "corrupt"
    if not folder.exists():
        shutil.copytree(tiny_models_dir[catalogue.SENTIMENT], folder)
        (folder / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(ModelLoadError) as caught:
        load_model(catalogue.SENTIMENT, "corrupt", settings)
    assert "corrupt" in caught.value.user_text()


def test_half_precision_on_gpu_and_catalogue_dtype_on_cpu(settings):
    from backend.models.resolve.device import DeviceInfo

    gpu = DeviceInfo("cuda", "cuda:0", "GPU", "bfloat16")
    cpu = DeviceInfo("cpu", "cpu", "CPU", None)
    float32_cpu = dataclasses.replace(settings, cpu_bfloat16="off")
    llm = catalogue.default_model(catalogue.TEXT_GENERATION).hub_id
    assert choose_dtype(catalogue.SENTIMENT, "any/model", gpu, float32_cpu) == "bfloat16"
    assert choose_dtype(catalogue.SENTIMENT, "any/model", cpu, float32_cpu) == "float32"
    assert choose_dtype(catalogue.TEXT_GENERATION, llm, cpu, float32_cpu) == "bfloat16"


@pytest.mark.parametrize(
    ("preference", "native", "expected"),
    [("auto", True, "bfloat16"), ("auto", False, "float32"), ("on", False, "bfloat16"), ("off", True, "float32")],
)
def test_cpu_bfloat16_for_the_demos_where_the_cpu_computes_it(settings, monkeypatch, preference, native, expected):
    from backend.models.resolve import device as device_module
    from backend.models.resolve.device import DeviceInfo

    monkeypatch.setattr(device_module, "cpu_computes_bfloat16", lambda: native)
    chosen = dataclasses.replace(settings, cpu_bfloat16=preference)
    cpu = DeviceInfo("cpu", "cpu", "CPU", None)
    for task in (catalogue.SENTIMENT, catalogue.TRANSLATION, catalogue.IMAGE_CLASSIFICATION):
        assert choose_dtype(task, "any/model", cpu, chosen) == expected
    # A chat reply is memory-bound: "auto" takes bfloat16's half bytes even where it is emulated.
    chat = "bfloat16" if preference == "auto" else expected
    assert choose_dtype(catalogue.TEXT_GENERATION, "any/model", cpu, chosen) == chat
    # Stored embeddings (search index, fine-tuning features) must keep one precision.
    assert choose_dtype(catalogue.EMBEDDINGS, "any/model", cpu, chosen) == "float32"


def test_cpu_bfloat16_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("LSM_CPU_BFLOAT16", raising=False)
    assert load_settings().cpu_bfloat16 == "auto"
    monkeypatch.setenv("LSM_CPU_BFLOAT16", " Off ")
    assert load_settings().cpu_bfloat16 == "off"


@pytest.mark.parametrize("task", [catalogue.SENTIMENT, catalogue.IMAGE_CLASSIFICATION])
def test_memory_estimate_of_a_folder_counts_the_dtype_it_loads_in(task, tiny_model_paths, settings):
    float32 = dataclasses.replace(settings, cpu_bfloat16="off")
    bfloat16 = dataclasses.replace(settings, cpu_bfloat16="on")
    ref = tiny_model_paths[task]
    # Within a few percent: buffers rebuilt at load time (position ids) are not in the file.
    for chosen in (float32, bfloat16):
        assert plan_load(task, ref, chosen).estimated_bytes == pytest.approx(
            load_model(task, ref, chosen).memory_bytes, rel=0.05
        )
    assert plan_load(task, ref, bfloat16).estimated_bytes < plan_load(task, ref, float32).estimated_bytes


def test_settings_read_from_secrets_file(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[showcase]\nmodels_dir = "/srv/models"\nmodel_memory_mb = 1234\noffline = true\n')
    for name in ("LSM_MODELS_DIR", "LSM_MODEL_MEMORY_MB", "LSM_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(secrets)
    assert settings.models_dir == Path("/srv/models")
    assert settings.model_memory_mb == 1234
    assert settings.offline is True
    monkeypatch.setenv("LSM_MODEL_MEMORY_MB", "99")
    assert load_settings(secrets).model_memory_mb == 99


# --- hub ids whose snapshot huggingface_hub's cache already holds ----------------------------------


def test_a_cached_hub_snapshot_is_read_tensor_by_tensor_like_a_local_folder(hub_settings, local_hub, tiny_models_dir):
    import transformers

    from backend.models.fetch import hub
    from tests.support.local_hub import TINY_REPO

    assert hub.cached_snapshot(TINY_REPO) is None
    snapshot = cache_repo(local_hub, TINY_REPO)
    assert hub.cached_snapshot(TINY_REPO) == snapshot
    plan = plan_load(catalogue.SENTIMENT, TINY_REPO, dataclasses.replace(hub_settings, cpu_bfloat16="on"))
    assert plan.folder is None and plan.dtype == "bfloat16"

    loaded = load_model(catalogue.SENTIMENT, TINY_REPO, dataclasses.replace(hub_settings, cpu_bfloat16="on"))
    # Read by lean_load from the snapshot's files (from_pretrained(hub id) would record the hub id).
    assert Path(loaded.model.name_or_path) == snapshot
    plain = transformers.AutoModelForSequenceClassification.from_pretrained(
        tiny_models_dir["sentiment"], dtype=torch.bfloat16
    )
    for name, tensor in plain.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name


def test_a_half_precision_snapshot_is_read_as_stored_for_int8(hub_settings, local_hub, tiny_models_dir, tmp_path):
    import transformers

    from backend.models import loader

    half = tmp_path / "half-sentiment"
    transformers.AutoModelForSequenceClassification.from_pretrained(tiny_models_dir["sentiment"]).to(
        torch.float16
    ).save_pretrained(half)
    transformers.AutoTokenizer.from_pretrained(tiny_models_dir["sentiment"]).save_pretrained(half)
    local_hub.repos["tiny-org/half-sentiment"] = half
    int8 = dataclasses.replace(hub_settings, cpu_quantize="int8")
    plan = plan_load(catalogue.SENTIMENT, "tiny-org/half-sentiment", int8)
    assert plan.int8 and plan.folder is None
    assert loader._weights_folder(plan, local_only=True) is None  # not cached, and the hub not asked
    snapshot = cache_repo(local_hub, "tiny-org/half-sentiment")
    assert loader._weights_folder(plan, local_only=True) == snapshot
    # Read as stored, then quantised a block at a time: never whole in float32.
    assert loader._read_dtype(plan, snapshot) == torch.float16
    loaded = load_model(catalogue.SENTIMENT, "tiny-org/half-sentiment", int8)
    inputs = loaded.preprocessor(["fine"], return_tensors="pt")
    assert torch.isfinite(loaded.model(**inputs).logits).all()


def test_a_hub_id_not_cached_yet_is_fetched_then_read_tensor_by_tensor(hub_settings, local_hub):
    from backend.models.fetch import hub
    from tests.support.local_hub import TINY_REPO

    bfloat16 = dataclasses.replace(hub_settings, cpu_bfloat16="on")
    loaded = load_model(catalogue.SENTIMENT, TINY_REPO, bfloat16)
    snapshot = hub.cached_snapshot(TINY_REPO)
    assert snapshot is not None and Path(loaded.model.name_or_path) == snapshot  # lean_load's, not from_pretrained's
    assert {p.dtype for p in loaded.model.parameters()} == {torch.bfloat16}
    # Fetched once: a second load reads the cache.
    fetched = local_hub.count("GET", f"/{TINY_REPO}/resolve/")
    load_model(catalogue.SENTIMENT, TINY_REPO, bfloat16)
    assert local_hub.count("GET", f"/{TINY_REPO}/resolve/") == fetched


def test_a_repo_without_safetensors_weights_is_left_to_from_pretrained(hub_settings, local_hub, tmp_path):
    from backend.models.fetch import hub

    local_hub.repos["tiny-org/config-only"] = tmp_path
    (tmp_path / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    assert hub.fetch_weights("tiny-org/config-only") is None
    assert hub.fetch_weights("tiny-org/no-such-repo") is None
