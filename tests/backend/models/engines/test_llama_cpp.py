"""The llama.cpp engine: a chat model's GGUF copy (8-bit blocks, no vocabulary) gives the torch
model's answers within 8-bit rounding through the same chat code, and a model it cannot run is
loaded in torch instead."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, GenerationConfig

from backend.inference import text_generation
from backend.models.engines import runtimes
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.models.resolve.plan import plan_load
from tests.support import tiny_models

pytest.importorskip("llama_cpp", reason="llama-cpp-python is installed by the test command (scripts/test.sh)")

from backend.models.engines import llama_cpp_engine
from backend.models.resolve import engine_choice

PROMPT = torch.tensor([[5, 17, 42, 8, 99, 3, 61, 27, 14, 150, 33]])


@pytest.fixture(scope="module")
def families(settings) -> dict[str, Path]:
    """Tiny chat models of each family the engine runs, saved in float32 in the models folder."""
    root = settings.models_dir / "llama-cpp"
    return {
        "llama": tiny_models.build_chat_model_of(root / "llama", "llama"),
        "llama, own head": tiny_models.build_chat_model_of(root / "untied", "llama", tie_word_embeddings=False),
        "mistral": tiny_models.build_chat_model_of(root / "mistral", "mistral", sliding_window=None),
        "qwen2": tiny_models.build_chat_model_of(root / "qwen2", "qwen2"),
    }


def _torch_model(folder: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def _greedy(model, max_new_tokens: int = 16) -> GenerationConfig:
    return GenerationConfig(
        max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=model.generation_config.eos_token_id,
        pad_token_id=model.generation_config.pad_token_id,
    )  # fmt: skip


@pytest.mark.parametrize("family", ["llama", "llama, own head", "mistral", "qwen2"])
def test_logits_match_torch_within_8_bit_rounding(families, family):
    folder = families[family]
    engine, _ = runtimes.llama_cpp_chat(folder)
    with torch.inference_mode():
        want = _torch_model(folder)(PROMPT).logits[0]
    got = engine.score(PROMPT)
    assert got.shape == want.shape
    # 8-bit blocks, weights and activations: here about 3% of the logits' spread on average and
    # 20% at most. A wrong rotary layout gives 60-70% and 370-400% (measured on these models).
    spread = want.std().item()
    error = (got - want).abs()
    assert error.mean().item() < 0.1 * spread, family
    assert error.max().item() < 0.4 * spread, family
    assert (got.argmax(-1) == want.argmax(-1)).float().mean().item() >= 0.9, family


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_greedy_replies_follow_torch_generate(families, family):
    folder = families[family]
    engine, _ = runtimes.llama_cpp_chat(folder)
    model = _torch_model(folder)
    config = _greedy(model)
    start = PROMPT.shape[1]
    with torch.inference_mode():
        reference = model.generate(input_ids=PROMPT, attention_mask=torch.ones_like(PROMPT), generation_config=config)
        want = model(reference).logits[0, start - 1 : -1]
    targets = reference[0, start:]
    # Teacher-forced on torch's greedy reply: where the engine picks another token, torch itself
    # was near a tie between the two (random tiny models have many).
    chosen = engine.score(reference)[start - 1 : -1].argmax(-1)
    positions = torch.arange(len(targets))
    gap = want[positions, targets] - want[positions, chosen]
    assert (gap <= 0.2 * want.std()).all(), (gap, want.std())
    assert (chosen == targets).float().mean().item() >= 0.75
    # Its own reply, token by token through the cache, is what one pass over that reply predicts.
    own = engine.generate(PROMPT, config)
    assert own[0, :start].tolist() == PROMPT[0].tolist()
    assert engine.score(own)[start - 1 : -1].argmax(-1).tolist() == own[0, start:].tolist()


def test_the_setting_streams_chat_replies_through_llama_cpp(families, settings):
    folder = str(families["qwen2"])
    chosen = dataclasses.replace(settings, cpu_engine="text-generation=llama.cpp")
    loaded = load_model(catalogue.TEXT_GENERATION, folder, chosen)
    assert loaded.engine == engine_choice.LLAMA_CPP
    assert loaded.decoder is loaded.model
    copy = next((Path(folder) / runtimes.CACHE_FOLDER).glob("llama.cpp-*")) / llama_cpp_engine.GGUF_FILE
    assert loaded.memory_bytes == copy.stat().st_size
    options = text_generation.GenerationOptions(temperature=0, max_new_tokens=12)
    stream = text_generation.stream_reply(loaded, [text_generation.ChatMessage("user", "hello there")], options)
    text = "".join(stream)
    assert stream.result is not None and stream.result.new_tokens > 0
    torch_loaded = load_model(catalogue.TEXT_GENERATION, folder, dataclasses.replace(settings, cpu_engine=""))
    assert torch_loaded.engine == engine_choice.TORCH
    expected = "".join(
        text_generation.stream_reply(torch_loaded, [text_generation.ChatMessage("user", "hello there")], options)
    )
    assert text[:8] == expected[:8]


def test_the_copy_is_made_once(families):
    folder = families["llama"]
    runtimes.llama_cpp_chat(folder)
    copy = next((folder / runtimes.CACHE_FOLDER).glob("llama.cpp-*")) / llama_cpp_engine.GGUF_FILE
    written = copy.stat().st_mtime_ns
    runtimes.llama_cpp_chat(folder)
    assert copy.stat().st_mtime_ns == written


def test_left_padded_batches_answer_each_row_as_alone(families):
    engine, _ = runtimes.llama_cpp_chat(families["llama"])
    config = _greedy(engine, max_new_tokens=6)
    pad = config.pad_token_id
    short = torch.tensor([[9, 4, 77]])
    batch = torch.tensor([[pad, pad, 9, 4, 77], [12, 40, 7, 3, 2]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    together = engine.generate(batch, attention_mask=mask, generation_config=config)
    alone = [engine.generate(short, config), engine.generate(batch[1:], config)]
    assert together.shape[0] == 2
    for row, single, prompt_length in zip(together, alone, (3, 5), strict=True):
        reply = single[0, prompt_length:].tolist()
        assert row[5 : 5 + len(reply)].tolist() == reply
        assert all(token == pad for token in row[5 + len(reply) :].tolist())


def test_a_set_stop_event_ends_the_reply(families):
    engine, _ = runtimes.llama_cpp_chat(families["llama"])
    stop = threading.Event()
    stop.set()
    assert engine.generate(PROMPT, _greedy(engine), stop_event=stop).shape[1] == PROMPT.shape[1] + 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}},
        {"mlp_bias": True},
    ],
    ids=["rotary scaling", "mlp biases"],
)
def test_models_it_cannot_run_load_in_torch(tmp_path, settings, overrides):
    folder = tiny_models.build_chat_model_of(settings.models_dir / "llama-cpp" / tmp_path.name, "llama", **overrides)
    with pytest.raises(llama_cpp_engine.UnsupportedModel):
        llama_cpp_engine.export_gguf(folder, tmp_path / "copy")
    chosen = dataclasses.replace(settings, cpu_engine="text-generation=llama.cpp")
    loaded = load_model(catalogue.TEXT_GENERATION, str(folder), chosen)
    assert loaded.engine == engine_choice.TORCH
    assert loaded.decoder is not None  # the compact loop runs it instead


def test_the_plan_budgets_what_the_copy_takes(families, settings):
    folder = families["llama, own head"]
    chosen = dataclasses.replace(settings, cpu_engine="text-generation=llama.cpp")
    plan = plan_load(catalogue.TEXT_GENERATION, str(folder), chosen)
    assert plan.engine == engine_choice.LLAMA_CPP
    loaded = load_model(catalogue.TEXT_GENERATION, str(folder), chosen)
    # Norms stay float32 in the copy and the file has a header: a few per cent above the blocks.
    assert 0.85 <= plan.estimated_bytes / loaded.memory_bytes <= 1.05
