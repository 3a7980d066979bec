"""The compact decode loop runs a weight-only int8 chat model as ``generate`` does: the same greedy
tokens, the same stops, the streamer fed, the weights held once; and it declines what it cannot run."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch
from transformers import GenerationConfig, TextIteratorStreamer

from backend.inference import text_generation
from backend.models.engines.compact_decoder import CompactDecoder, DecoderShape
from backend.models.load import quantize
from backend.models.loader import load_model
from backend.models.resolve import engine_choice
from tests.support import tolerances

GREEDY = text_generation.GenerationOptions(temperature=0, max_new_tokens=12)


def _llama(int8: bool = True, dtype: torch.dtype = torch.bfloat16, **overrides) -> torch.nn.Module:
    """A Llama in ``dtype`` (weight-only int8 with ``int8``) whose widths the int8 kernel takes
    (multiples of 8), with grouped-query attention."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    options = {
        "vocab_size": 96, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
        "tie_word_embeddings": True, "initializer_range": 0.2, "eos_token_id": 95, "pad_token_id": 0,
    }  # fmt: skip
    model = LlamaForCausalLM(LlamaConfig(**{**options, **overrides})).to(dtype).eval()
    return quantize.quantize_weight_only_int8(model, dtype) if int8 else model


def _greedy(max_new_tokens: int = 16, **options) -> GenerationConfig:
    return GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=95, pad_token_id=0, **options)


PROMPTS = ([1, 5, 9, 3], [7], list(range(2, 40)))
# A bfloat16 model rounds its residual stream after each of about 7 steps in each of its 3 layers,
# where the loop keeps float32: the logits' worst position is up to about 20 roundings apart.
_MODEL_ROUNDINGS = 20


def _assert_same_greedy_reply(model, decoder, ids) -> None:
    """The decoder's greedy reply is generate's, token for token, up to a step where generate's two
    best tokens were a near-tie (the loop's float32 residual stream may then pick the other one:
    the model's runs in bfloat16, a few rounding steps apart; random tiny models have such ties)."""
    with torch.inference_mode():
        want = model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=_greedy(),
            output_scores=True, return_dict_in_generate=True,
        )  # fmt: skip
    got = decoder.generate(ids, _greedy())[0, ids.shape[1] :].tolist()
    expected = want.sequences[0, ids.shape[1] :].tolist()
    for step, (mine, theirs) in enumerate(zip(got, expected, strict=False)):
        if mine != theirs:
            scores = want.scores[step][0].float()
            assert scores[theirs] - scores[mine] < 0.05 * scores.std(), (step, got, expected)
            return
    assert len(got) == len(expected)


@pytest.mark.parametrize("overrides", [{}, {"tie_word_embeddings": False}, {"num_key_value_heads": 4}, {"int8": False}])
def test_greedy_tokens_equal_generate_on_the_same_model(overrides, compute_dtype):
    model = _llama(dtype=tolerances.dtype_of(compute_dtype), **overrides)
    decoder = CompactDecoder.build(model)
    assert decoder is not None
    for prompt in PROMPTS:
        _assert_same_greedy_reply(model, decoder, torch.tensor([prompt]))


def test_logits_match_the_model_forward_within_float_rounding(compute_dtype):
    model = _llama(dtype=tolerances.dtype_of(compute_dtype))
    decoder = CompactDecoder.build(model)
    ids = torch.tensor([3, 14, 15, 92, 65, 35])
    state = decoder._reply_state(len(ids) + 1)
    prompt_logits = decoder._forward(ids[:-1], 0, state)
    next_logits = decoder._forward(ids[-1:], len(ids) - 1, state)
    with torch.inference_mode():
        want = model(ids[None]).logits[0].float()
    # A bfloat16 model rounds its residual stream at every step, the loop keeps it in float32.
    bound = tolerances.tolerance(compute_dtype, roundings=_MODEL_ROUNDINGS, scale=want.std().item()).atol
    assert (prompt_logits[0] - want[-2]).abs().max().item() < bound
    assert (next_logits[0] - want[-1]).abs().max().item() < bound


def test_weights_are_held_once():
    model = _llama()
    before = quantize.weight_only_bytes(model)
    decoder = CompactDecoder.build(model)
    attention = model.model.layers[0].self_attn
    fused = decoder.layers[0].qkv.weight
    for projection in (attention.q_proj, attention.k_proj, attention.v_proj):
        assert projection.weight_int8.untyped_storage().data_ptr() == fused.untyped_storage().data_ptr()
    assert quantize.weight_only_bytes(model) == before
    # The model's own layers, now slices of the fused weights, still compute the same replies.
    _assert_same_greedy_reply(model, decoder, torch.tensor([[1, 5, 9, 3]]))


def test_stops_at_eos_at_max_tokens_and_when_asked():
    model = _llama()
    decoder = CompactDecoder.build(model)
    ids = torch.tensor([[1, 5, 9, 3]])
    free = decoder.generate(ids, _greedy(max_new_tokens=6))
    assert free.shape[1] == 4 + 6
    first = int(free[0, 4])
    # That first token as the end-of-sequence id: the reply ends with it, as generate's does.
    config = _greedy(max_new_tokens=6)
    config.eos_token_id = first
    assert decoder.generate(ids, config).tolist() == [[1, 5, 9, 3, first]]
    stop = threading.Event()
    stop.set()
    assert decoder.generate(ids, _greedy(max_new_tokens=6), stop_event=stop).shape[1] == 5
    # min_new_tokens keeps the end-of-sequence id away until that many tokens exist.
    config.min_new_tokens = 3
    assert decoder.generate(ids, config).shape[1] >= 4 + 3


def test_sampling_is_reproducible_and_follows_the_options():
    model = _llama()
    decoder = CompactDecoder.build(model)
    ids = torch.tensor([[1, 5, 9, 3]])
    config = GenerationConfig(max_new_tokens=10, do_sample=True, temperature=0.7, top_p=0.9, top_k=50, eos_token_id=95)
    torch.manual_seed(3)
    first = decoder.generate(ids, config)
    torch.manual_seed(3)
    assert decoder.generate(ids, config).tolist() == first.tolist()
    assert all(0 <= t < 96 for t in first[0].tolist())
    # top_k=1 leaves only the most likely token: sampling then is greedy decoding.
    config.top_k = 1
    assert decoder.generate(ids, config).tolist() == decoder.generate(ids, _greedy(max_new_tokens=10)).tolist()


def test_options_it_does_not_implement_go_to_generate():
    decoder = CompactDecoder.build(_llama())
    assert decoder.runs(_greedy(), prompt_tokens=10)
    assert not decoder.runs(_greedy(no_repeat_ngram_size=3), prompt_tokens=10)
    assert not decoder.runs(_greedy(num_beams=2), prompt_tokens=10)
    assert not decoder.runs(_greedy(max_new_tokens=200), prompt_tokens=10)  # beyond 128 positions
    assert decoder.runs(_greedy(repetition_penalty=1.2), prompt_tokens=10)


def test_models_it_cannot_run_get_no_decoder():
    from transformers import GPT2Config, GPT2LMHeadModel

    assert CompactDecoder.build(_llama(hidden_act="gelu")) is None
    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=64)).eval()
    assert CompactDecoder.build(quantize.quantize_weight_only_int8(gpt2)) is None
    mixed = _llama(int8=False)
    layer = mixed.model.layers[0].mlp
    layer.down_proj = quantize.Int8WeightOnlyLinear(layer.down_proj.weight.detach(), None, torch.bfloat16)
    assert DecoderShape.of(mixed) is None


@pytest.mark.parametrize("quantise", ["none", engine_choice.INT8])
def test_the_chat_page_backend_replies_through_it_as_generate_would(tiny_model_paths, settings, quantise):
    # The tiny Qwen2: attention biases, an MLP width the int8 kernel cannot take; float32 or int8.
    chosen = dataclasses.replace(settings, cpu_quantize=quantise, cpu_bfloat16="on")
    loaded = load_model("text-generation", tiny_model_paths["text-generation"], chosen)
    assert loaded.decoder is not None
    messages = [text_generation.ChatMessage("user", "Hello there")]
    stream = text_generation.stream_reply(loaded, messages, GREEDY)
    text = "".join(stream)
    prompt = text_generation.prepare_prompt(loaded, messages, GREEDY.max_new_tokens)
    config = text_generation.generation_config(loaded, GREEDY, prompt.max_new_tokens)
    streamer = TextIteratorStreamer(loaded.preprocessor, skip_prompt=True, skip_special_tokens=True)
    with torch.inference_mode():
        want = loaded.model.generate(input_ids=prompt.input_ids, generation_config=config, streamer=streamer)
    assert text == "".join(streamer)
    assert stream.result.new_tokens == want.shape[1] - prompt.input_ids.shape[1]


def test_a_long_prompt_goes_through_in_chunks_with_the_same_answers(monkeypatch, compute_dtype):
    from backend.models.engines import compact_decoder

    model = _llama(dtype=tolerances.dtype_of(compute_dtype))
    decoder = CompactDecoder.build(model)
    ids = torch.tensor([list(range(2, 40))])
    whole = decoder.score(ids)
    monkeypatch.setattr(compact_decoder, "PREFILL_CHUNK", 5)  # 38 tokens: 8 chunks, the last one short
    chunked = decoder.score(ids)
    assert chunked.shape == whole.shape == (38, 96)
    # The same products on 5 rows or 38: in bfloat16 a kernel may round them differently by row
    # count (AMX's int8 kernel does: two ulps of a logit near 3), so the bound is bfloat16's.
    assert torch.allclose(chunked, whole, **tolerances.tolerance(compute_dtype, 4, whole.std().item()).kwargs())
    with torch.inference_mode():
        want = model(ids).logits[0].float()
    spread = want.std().item()
    assert (chunked - want).abs().mean().item() < tolerances.tolerance(compute_dtype, 4, spread).atol
    assert (chunked - want).abs().max().item() < tolerances.tolerance(compute_dtype, _MODEL_ROUNDINGS, spread).atol
    assert (chunked.argmax(-1) == want.argmax(-1)).float().mean().item() >= 0.9
    _assert_same_greedy_reply(model, decoder, ids)
