"""bfloat16 loads of float32 checkpoints: straight to bfloat16, without the float32 copy."""

import dataclasses
from pathlib import Path

import pytest
import torch

from backend.models.load import dtype_convert
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from benchmarks import measure
from tests.support import tiny_models


def _bf16(settings):
    return dataclasses.replace(settings, cpu_bfloat16="on")


@pytest.fixture(scope="module")
def wide_classifier(settings) -> Path:
    """A float32 text classifier of about 100 MB, mostly one large embedding (as DistilBERT's):
    big enough that a float32 copy held during the load stands out from allocator noise."""
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    folder = settings.models_dir / "lean-load" / "wide-classifier"
    if not (folder / "config.json").is_file():
        torch.manual_seed(0)
        config = DistilBertConfig(vocab_size=90_000, dim=256, n_layers=2, n_heads=4, hidden_dim=512, num_labels=3)
        DistilBertForSequenceClassification(config).save_pretrained(folder)
        tiny_models.build_bert_tokenizer(folder)
    return folder


@pytest.mark.parametrize(
    "task", [catalogue.SENTIMENT, catalogue.TRANSLATION, catalogue.IMAGE_CLASSIFICATION, catalogue.TEXT_GENERATION]
)
def test_bfloat16_loads_give_bfloat16_tensors_and_the_same_answers(task, tiny_model_paths, settings):
    lean = load_model(task, tiny_model_paths[task], _bf16(settings))
    assert {p.dtype for p in lean.model.parameters()} == {torch.bfloat16}
    # The ordinary from_pretrained conversion, for reference.
    import transformers

    from backend.models.loader import _AUTO_CLASSES

    auto = getattr(transformers, _AUTO_CLASSES[task][0])
    plain = auto.from_pretrained(tiny_model_paths[task], dtype=torch.bfloat16).eval()
    lean_state, plain_state = lean.model.state_dict(), plain.state_dict()
    assert lean_state.keys() == plain_state.keys()
    for name, tensor in plain_state.items():
        assert torch.equal(lean_state[name], tensor), name
    # Where it came from, as from_pretrained records it (PEFT reads it when saving an adapter).
    assert Path(lean.model.name_or_path).resolve() == Path(plain.name_or_path).resolve()
    assert lean.model.config.name_or_path == lean.model.name_or_path
    if task in (catalogue.TRANSLATION, catalogue.TEXT_GENERATION):
        assert lean.model.generation_config.to_dict() == plain.generation_config.to_dict()


@pytest.fixture(scope="module")
def wide_chat_model(settings) -> Path:
    """A float32 chat model of about 90 MB, nearly all decoder-layer weights."""
    folder = settings.models_dir / "lean-load" / "wide-chat"
    if not (folder / "config.json").is_file():
        tiny_models.build_chat_model_of(
            folder, "llama", hidden_size=512, intermediate_size=2048, num_hidden_layers=6, num_attention_heads=8
        )
    return folder


def test_loading_in_the_stored_dtype_keeps_the_ordinary_path(tiny_model_paths):
    files = sorted(Path(tiny_model_paths[catalogue.SENTIMENT]).glob("*.safetensors"))
    assert dtype_convert.needs_conversion(files, torch.bfloat16)
    assert not dtype_convert.needs_conversion(files, torch.float32)


@pytest.mark.parametrize(
    "task, model", [(catalogue.SENTIMENT, "wide_classifier"), (catalogue.TEXT_GENERATION, "wide_chat_model")]
)
def test_a_bfloat16_load_adds_little_more_than_the_bfloat16_weights(task, model, settings, request):
    folder = str(request.getfixturevalue(model))
    load_model(task, folder, _bf16(settings))  # imports and lazy set-up, not counted
    measure.return_freed_memory()
    with measure.peak_memory() as memory:
        loaded = load_model(task, folder, _bf16(settings))
        with torch.inference_mode():
            for tensor in loaded.model.parameters():  # every page the model holds, read
                tensor.sum()
    weights_mb = loaded.memory_bytes / 2**20
    assert {p.dtype for p in loaded.model.parameters()} == {torch.bfloat16}
    # The ordinary path holds the float32 file's pages too: about 3x the bfloat16 weights here
    # (the chat model: 134 MB for 45 MB before it took this path, 50 MB after).
    assert memory.delta_rss_mb < 1.3 * weights_mb + 25, (memory.delta_rss_mb, weights_mb)


def test_a_damaged_header_is_refused_before_any_tensor_is_read(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes((2**40).to_bytes(8, "little") + b"{}")
    with pytest.raises(dtype_convert.LeanLoadUnsupported):
        dtype_convert.read_state_dict([bad], torch.bfloat16)


@pytest.mark.real_weights
def test_real_weights_read_straight_into_bfloat16_equal_the_ordinary_conversion():
    """all-MiniLM-L6-v2's float32 BERT encoder (real weights) in bfloat16, both ways."""
    import transformers

    from backend.models.fetch import packaged
    from tests.support.packaged import require_packaged

    folder = require_packaged(packaged.MINILM_L6)
    files = sorted(folder.glob("*.safetensors"))
    assert dtype_convert.needs_conversion(files, torch.bfloat16)
    lean, loading_info = dtype_convert.load_converted(transformers.AutoModel, folder, files, torch.bfloat16)
    assert not loading_info["missing_keys"]
    plain = transformers.AutoModel.from_pretrained(folder, dtype=torch.bfloat16, local_files_only=True)
    lean_state, plain_state = lean.state_dict(), plain.state_dict()
    assert lean_state.keys() == plain_state.keys()
    assert all(torch.equal(lean_state[name], tensor) for name, tensor in plain_state.items())
