"""A compact decode loop for chat models on a CPU: one reply at a time, without ``generate``'s
machinery per token.

At batch 1 a small chat model spends much of each token outside its matrix products: ``generate``
and the transformers layers run about 40 small operations per layer, many of them bfloat16
element-wise work that a CPU without bfloat16 units emulates. This loop runs the same model (its
own weights, read in place: float, or weight-only int8) with what one reply needs and nothing else:

- in an int8 model q, k and v, and gate and up, are one product each: their rows are concatenated
  once and the model's own layers re-pointed at slices of the concatenation (no weight held twice);
- the residual stream, norms, rotary embedding and attention run in float32 (fast on any CPU), the
  products take the weights' dtype, as the model's own layers do;
- the key/value cache is one preallocated float32 tensor for the reply's length, written in
  place, and a long prompt goes through in chunks;
- one token's attention is two small matrix products per key/value head, with no repeated keys.

Its replies are checked against ``generate``'s on the same model and against bfloat16 on real
SmolLM2 weights (``tests/backend/models/test_compact_decoder.py``, ``test_streamed_load.py``), and
``benchmarks/chat_speed.py`` measures it. Only decoder families whose layers are exactly this shape
are taken (``DecoderShape.of``); every other model, and any generation option this loop does not
implement, goes through ``generate``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from transformers import (
    GenerationConfig,
    LogitsProcessorList,
    MinNewTokensLengthLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from backend.models import memory
from backend.models.load.quantize import Int8WeightOnlyLinear, int8_matmul

# Families whose layers are pre-norm RMSNorm, rotary q/k (rotate-half), grouped-query attention
# and a SiLU-gated MLP, with no extra norms or partial rotary: Llama, Mistral, Qwen2.
SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")
# Generation options this loop implements; any other option set on a call's config means ``generate``.
# Prompt tokens per forward pass: bounds a long prompt's activations (a 32k-token conversation at
# full width would take gigabytes) at a small cost in speed.
PREFILL_CHUNK = 512
_SUPPORTED_OPTIONS = frozenset(
    {
        "max_new_tokens", "max_length", "min_new_tokens", "do_sample", "temperature", "top_k", "top_p",
        "repetition_penalty", "eos_token_id", "pad_token_id", "bos_token_id", "num_beams",
        "num_return_sequences", "use_cache", "transformers_version", "_from_model_config",
        "output_attentions", "output_hidden_states", "return_dict_in_generate",
    }
)  # fmt: skip


@dataclass(frozen=True)
class _Int8:
    """Int8 rows with one scale each; the product comes out in the scales' dtype."""

    weight: torch.Tensor
    scales: torch.Tensor
    bias: torch.Tensor | None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return int8_matmul(x, self.weight, self.scales, self.bias)


@dataclass(frozen=True)
class _Float:
    """Float rows (a float model's layers, or a tied embedding table as the head), at their dtype."""

    weight: torch.Tensor
    bias: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(self.weight.dtype), self.weight, self.bias)


@dataclass(frozen=True)
class _Floats:
    """Several float products of one input, their outputs side by side (as one fused product's)."""

    parts: tuple[_Float, ...]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([part(x) for part in self.parts], dim=-1)


@dataclass(frozen=True)
class _Norm:
    """RMSNorm as ``x * w / hypot(|x| / sqrt(n), sqrt(eps))``: the same value as
    ``x / sqrt(mean(x^2) + eps) * w`` in five float32 operations instead of eight, written in the
    next product's input dtype. ``weight`` is the model's own tensor, so it stays current."""

    weight: torch.Tensor
    inverse_root_width: float
    root_eps: torch.Tensor
    dtype: torch.dtype

    @classmethod
    def of(cls, weight: torch.Tensor, eps: float, dtype: torch.dtype) -> _Norm:
        return cls(weight.detach(), weight.numel() ** -0.5, torch.tensor(eps**0.5), dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        root_mean_square = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.inverse_root_width
        return (x * self.weight / torch.hypot(root_mean_square, self.root_eps)).to(self.dtype)


@dataclass(frozen=True)
class _Layer:
    input_norm: _Norm
    qkv: _Int8 | _Floats
    out: _Int8 | _Float
    post_norm: _Norm
    gate_up: _Int8 | _Floats
    down: _Int8 | _Float


def _fuse(modules: list[torch.nn.Module]) -> _Int8 | _Float | _Floats:
    """One product for ``modules`` (same input)."""
    if isinstance(modules[0], Int8WeightOnlyLinear):
        return _fuse_int8(modules)
    parts = tuple(_Float(m.weight.detach(), None if m.bias is None else m.bias.detach()) for m in modules)
    # Float weights are not concatenated: a float model's weights are usually pages mapped from
    # its files, which a copy would hold a second time. Separate products cost a few per cent.
    return parts[0] if len(parts) == 1 else _Floats(parts)


def _fuse_int8(modules: list[Int8WeightOnlyLinear]) -> _Int8:
    """Int8 rows concatenated, and each module re-pointed at its rows of the concatenation, so the
    weights are held once (the originals are freed)."""
    bias = None
    if any(m.bias is not None for m in modules):
        zeros = [torch.zeros(m.out_features, dtype=m.scales.dtype) for m in modules]
        bias = torch.cat([z if m.bias is None else m.bias.detach() for m, z in zip(modules, zeros, strict=True)])
    weight = torch.cat([m.weight_int8 for m in modules])
    scales = torch.cat([m.scales for m in modules])
    start = 0
    for module in modules:
        rows = slice(start, start + module.out_features)
        module.weight_int8, module.scales = weight[rows], scales[rows]
        start += module.out_features
    return _Int8(weight, scales, bias)


def _projections(layer: Any) -> list[torch.nn.Module]:
    attention, mlp = layer.self_attn, layer.mlp
    return [
        attention.q_proj,
        attention.k_proj,
        attention.v_proj,
        attention.o_proj,
        mlp.gate_proj,
        mlp.up_proj,
        mlp.down_proj,
    ]


@dataclass(frozen=True)
class DecoderShape:
    """The attention geometry of a supported model."""

    heads: int
    kv_heads: int
    head_dim: int
    eps: float
    sliding_window: int | None

    @classmethod
    def of(cls, model: Any) -> DecoderShape | None:
        """The shape of ``model`` if this loop can run it (a supported family on the CPU, its
        projections all weight-only int8 or all plain ``Linear``), else None."""
        config = getattr(model, "config", None)
        if config is None or getattr(config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
            return None
        if getattr(config, "hidden_act", None) != "silu" or getattr(config, "pretraining_tp", 1) != 1:
            return None
        inner = getattr(model, "model", None)
        layers = getattr(inner, "layers", None)
        if layers is None or not hasattr(inner, "rotary_emb"):
            return None
        kinds = {type(p) for layer in layers for p in _projections(layer)}
        if kinds != {Int8WeightOnlyLinear} and kinds != {torch.nn.Linear}:
            return None
        if kinds == {torch.nn.Linear} and any(p.weight.device.type != "cpu" for p in _projections(layers[0])):
            return None
        heads = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        window = getattr(config, "sliding_window", None) if getattr(config, "use_sliding_window", True) else None
        return cls(heads, kv_heads, head_dim, float(config.rms_norm_eps), window)


class DecodeLoop:
    """One reply per call from a chat model's forward pass, as ``generate`` gives it: the options
    ``runs`` accepts, ``generate``'s logits processors and sampling, the streamer fed, the stops.
    A subclass supplies the forward pass (``_reply_state`` and ``_forward``); calls may run at once,
    since all per-reply state lives in the call."""

    max_positions: int = 0
    sliding_window: int | None = None

    def _reply_state(self, length: int) -> Any:
        """What one reply of up to ``length`` positions needs (its key/value cache)."""
        raise NotImplementedError

    def _release(self, state: Any) -> None:
        """Frees what ``_reply_state`` made, when the reply ends (nothing, where memory is managed)."""

    def _forward(self, tokens: torch.Tensor, position: int, state: Any, every_position: bool = False) -> torch.Tensor:
        """Logits of the last of ``tokens`` (1-D; of each with ``every_position``), which sit at
        ``position`` onwards; the cache is written for their positions and holds every earlier one."""
        raise NotImplementedError

    def take_note(self) -> str:
        """What the calling thread's last reply should tell the user about how it ran ("" for nothing)."""
        return ""

    def runs(self, config: GenerationConfig, prompt_tokens: int) -> bool:
        """Whether this loop implements everything ``config`` asks for (else: ``generate``)."""
        if set(config.to_diff_dict()) - _SUPPORTED_OPTIONS:
            return False
        if (config.num_beams or 1) != 1 or (config.num_return_sequences or 1) != 1:
            return False
        length = prompt_tokens + (config.max_new_tokens or 0)
        window = self.sliding_window
        return (not window or length <= window) and (not self.max_positions or length <= self.max_positions)

    @torch.inference_mode()
    def score(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits (n x vocabulary) at every position of ``input_ids`` (1 x n), as the model's own
        forward gives them: for checking this loop's answers against another model's."""
        ids = input_ids.reshape(-1)
        state = self._reply_state(ids.numel())
        try:
            chunks = [
                self._forward(ids[start : start + PREFILL_CHUNK], start, state, every_position=True)
                for start in range(0, ids.numel(), PREFILL_CHUNK)
            ]
        finally:
            self._release(state)
        return torch.cat(chunks)

    @torch.inference_mode()
    def generate(
        self,
        input_ids: torch.Tensor,
        config: GenerationConfig,
        streamer: Any = None,
        stop_event: threading.Event | None = None,
    ) -> torch.Tensor:
        """The prompt (1 x n ids) followed by the reply's ids, as ``generate`` returns them; each
        new id goes to ``streamer`` (``put``/``end``, as ``generate`` does), and a set
        ``stop_event`` ends the reply after the current token."""
        prompt = input_ids.reshape(-1)
        max_new = int(config.max_new_tokens)
        processors = _processors(config, prompt.numel())
        eos = _ids(config.eos_token_id)
        if streamer is not None:
            streamer.put(input_ids.cpu())
        state = self._reply_state(prompt.numel() + max_new)
        try:
            # The prompt in chunks: a long conversation's activations stay the size of one chunk.
            for start in range(0, prompt.numel() - 1, PREFILL_CHUNK):
                self._forward(prompt[start : min(start + PREFILL_CHUNK, prompt.numel() - 1)], start, state)
            generated = [prompt]
            tokens, position = prompt[-1:], prompt.numel() - 1
            for _ in range(max_new):
                logits = self._forward(tokens, position, state)
                position += tokens.numel()
                scores = processors(torch.cat(generated)[None], logits) if processors else logits
                if config.do_sample:
                    tokens = torch.multinomial(torch.softmax(scores, dim=-1), 1)[0]
                else:
                    tokens = scores.argmax(dim=-1)
                generated.append(tokens)
                if streamer is not None:
                    streamer.put(tokens)
                if int(tokens) in eos or (stop_event is not None and stop_event.is_set()):
                    break
        finally:
            self._release(state)
        if streamer is not None:
            streamer.end()
        return torch.cat(generated)[None]


class CompactDecoder(DecodeLoop):
    """Greedy or sampled replies from a chat model (float or weight-only int8), one reply per
    call (calls may run at once: all per-reply state lives in the call)."""

    def __init__(self, model: Any, shape: DecoderShape) -> None:
        inner = model.model
        self.shape = shape
        self.layers = []
        first = _projections(inner.layers[0])[0]
        # The products' input dtype: int8 layers take their scales' dtype, float layers their own.
        dtype = first.scales.dtype if isinstance(first, Int8WeightOnlyLinear) else first.weight.dtype
        for layer in inner.layers:
            attention, mlp = layer.self_attn, layer.mlp
            self.layers.append(
                _Layer(
                    input_norm=_Norm.of(layer.input_layernorm.weight, shape.eps, dtype),
                    qkv=_fuse([attention.q_proj, attention.k_proj, attention.v_proj]),
                    out=_fuse([attention.o_proj]),
                    post_norm=_Norm.of(layer.post_attention_layernorm.weight, shape.eps, dtype),
                    gate_up=_fuse([mlp.gate_proj, mlp.up_proj]),
                    down=_fuse([mlp.down_proj]),
                )
            )
            if isinstance(first, Int8WeightOnlyLinear):
                # The layer's unfused int8 weights were just freed. glibc keeps such freed blocks
                # in its heap, and the next layers' (larger) fused ones cannot reuse them: trimmed
                # only at the end, the load's peak held a second int8 model (x1.47 of the weights
                # on a 0.5B model; x1.06 with this).
                memory.malloc_trim()
        self.final_norm = _Norm.of(inner.norm.weight, shape.eps, dtype)
        self.embeddings = inner.embed_tokens.weight.detach()
        head = model.get_output_embeddings()
        tied = head.weight is inner.embed_tokens.weight if isinstance(head, torch.nn.Linear) else False
        self.head = _Float(self.embeddings) if tied else _fuse([head])
        self.rotary = inner.rotary_emb
        self.max_positions = int(getattr(model.config, "max_position_embeddings", 0) or 0)
        self.sliding_window = shape.sliding_window

    @classmethod
    def build(cls, model: Any) -> CompactDecoder | None:
        """A decoder for ``model``, or None when this loop cannot run it (``DecoderShape.of``)."""
        shape = DecoderShape.of(model)
        return None if shape is None else cls(model, shape)

    def _cache(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values for ``length`` positions, in float32: a bfloat16 cache would halve a
        long conversation's cache but moved answers further from bfloat16 ``generate``'s on real
        weights (87.5% same next token on one check prompt, against 93.8% in float32)."""
        shape = (len(self.layers), self.shape.kv_heads, length, self.shape.head_dim)
        return torch.empty(shape), torch.empty(shape)

    def _positions(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        # The model's own rotary module: its scaling variants (llama3, yarn...) come with it.
        cos, sin = self.rotary(torch.zeros(1), torch.arange(length)[None])
        return cos[0].float(), sin[0].float()

    def _reply_state(self, length: int) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        return self._cache(length), self._positions(length)

    def _forward(self, tokens: torch.Tensor, position: int, state: tuple, every_position: bool = False) -> torch.Tensor:
        heads, kv_heads, head_dim = self.shape.heads, self.shape.kv_heads, self.shape.head_dim
        (keys, values), rotary = state
        x = self.embeddings[tokens].float()  # a copy: the residual stream is added to in place
        count, width = x.shape
        end = position + count
        cos, sin = rotary[0][position:end, None, :], rotary[1][position:end, None, :]
        q_width = heads * head_dim
        for index, layer in enumerate(self.layers):
            qkv = layer.qkv(layer.input_norm(x)).float().view(count, heads + 2 * kv_heads, head_dim)
            # Rotate-half rotary embedding for queries and keys together.
            qk = qkv[:, : heads + kv_heads]
            first, second = qk.chunk(2, dim=-1)
            qk = qk * cos + torch.cat((-second, first), dim=-1) * sin
            keys[index, :, position:end] = qk[:, heads:].transpose(0, 1)
            values[index, :, position:end] = qkv[:, heads + kv_heads :].transpose(0, 1)
            k, v = keys[index, :, :end], values[index, :, :end]
            q = qk[:, :heads].to(k.dtype)
            if count == 1:
                # Each key/value head answers its group of query heads: no repeated keys.
                grouped = q.reshape(kv_heads, heads // kv_heads, head_dim) * head_dim**-0.5
                weights = torch.softmax(torch.bmm(grouped, k.transpose(1, 2)), dim=-1, dtype=torch.float32)
                attended = torch.bmm(weights.to(v.dtype), v).reshape(1, q_width)
            else:
                # Causal within the chunk, and every earlier position (already in the cache) too.
                mask = None if position == 0 else _chunk_mask(position, count)
                repeat = heads // kv_heads
                attended = F.scaled_dot_product_attention(
                    q.transpose(0, 1), k.repeat_interleave(repeat, 0), v.repeat_interleave(repeat, 0),
                    attn_mask=mask, is_causal=mask is None,
                ).transpose(0, 1).reshape(count, q_width)  # fmt: skip
            x.add_(layer.out(attended))
            # The gated activation stays in the products' dtype: it is the down product's input.
            gate, up = layer.gate_up(layer.post_norm(x)).chunk(2, dim=-1)
            x.add_(layer.down(F.silu(gate) * up))
        return self.head(self.final_norm(x if every_position else x[-1:])).float()


def _chunk_mask(position: int, count: int) -> torch.Tensor:
    """Which cached positions each of ``count`` tokens starting at ``position`` may attend to."""
    return torch.arange(position + count)[None, :] <= torch.arange(position, position + count)[:, None]


def _ids(value: int | list[int] | None) -> frozenset[int]:
    if value is None:
        return frozenset()
    return frozenset([value] if isinstance(value, int) else value)


def _processors(config: GenerationConfig, prompt_tokens: int) -> LogitsProcessorList:
    """``generate``'s processors for the options ``runs`` accepts, in ``generate``'s order."""
    processors = LogitsProcessorList()
    if config.min_new_tokens and config.eos_token_id is not None:
        eos = sorted(_ids(config.eos_token_id))
        processors.append(MinNewTokensLengthLogitsProcessor(prompt_tokens, config.min_new_tokens, eos))
    if config.repetition_penalty not in (None, 1.0):
        processors.append(RepetitionPenaltyLogitsProcessor(config.repetition_penalty))
    if config.do_sample:
        if config.temperature not in (None, 1.0):
            processors.append(TemperatureLogitsWarper(config.temperature))
        if config.top_k:
            processors.append(TopKLogitsWarper(config.top_k))
        if config.top_p is not None and config.top_p < 1.0:
            processors.append(TopPLogitsWarper(config.top_p))
    return processors
