"""Chat models on a CPU through llama.cpp (``LSM_CPU_ENGINE=text-generation=llama.cpp``).

At batch 1 on a CPU without int8 dot-product units, torch's int8 product runs no faster than a
bfloat16 one and every token still costs about 400 dispatched operations; llama.cpp runs the whole
token in C++ with 8-bit blocks (weights and activations in blocks of 32, each with its own scale),
which is what takes a small chat model past 2x the bfloat16 ``pipeline`` (``benchmarks/RESULTS.md``).

The model's weights are written once, tensor by tensor, into a GGUF file in 8-bit blocks (Q8_0)
and cached beside the model (``engines.cached_copy``). The file holds **no vocabulary**: token ids
go in and logits come out, so the model's own transformers tokenizer, chat template, logits
processors, sampling and streaming (``DecodeLoop``) are exactly the torch paths'. Only families
whose layers llama.cpp computes as transformers does are taken: Llama, Mistral and Qwen2 with
plain rotary positions and no sliding window; any other raises ``UnsupportedModel`` and the loader
runs the model in torch.

llama.cpp itself runs in a child process (``engine_server``, supervised by
``engine_process``): a crash, abort or hang there ends that process only, and the reply in
flight goes on in torch. Each reply gets its own llama.cpp context (its key/value cache, sized to
the reply); the process answers one request at a time, so replies at once take turns per token.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backend.models import memory, safetensors_file
from backend.models.engines.compact_decoder import PREFILL_CHUNK, DecodeLoop
from backend.models.engines.engine_process import EngineFailure, EngineProcess, FallsBackToTorch

_LOG = logging.getLogger(__name__)

GGUF_FILE = "model.gguf"
_ARCHITECTURES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2"}
# GGUF's "llama" layout pairs rotary dimensions (0, 1), (2, 3)...; transformers' Llama and Mistral
# rotate halves, so their q and k rows are reordered on the way in. Qwen2 rotates halves in both.
_PERMUTED = {"llama"}
_LAYER_NAMES = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}  # fmt: skip
_Q8_BLOCK = 32
# Rows quantised at a time: bounds the float32 copy of one large tensor (an embedding table).
_ROWS_PER_BLOCK = 4096


class UnsupportedModel(ValueError):
    """The model is not one llama.cpp computes as transformers does (the loader then uses torch)."""


# --- writing the GGUF copy -------------------------------------------------------------------------


def gguf_architecture(config: dict[str, Any]) -> str:
    """The GGUF family of a transformers config (its config.json), or ``UnsupportedModel`` saying why
    llama.cpp would not compute it as transformers does."""
    model_type = config.get("model_type")
    if model_type not in _ARCHITECTURES:
        raise UnsupportedModel(f"model type {model_type!r} is not a Llama, Mistral or Qwen2")
    if config.get("hidden_act", "silu") != "silu" or config.get("pretraining_tp", 1) != 1:
        raise UnsupportedModel("only SiLU-gated layers are supported")
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if (rope.get("rope_type") or rope.get("type") or "default") != "default":
        raise UnsupportedModel(f"rotary scaling {rope.get('rope_type') or rope.get('type')!r} is not supported")
    window = config.get("sliding_window") if config.get("use_sliding_window", True) else None
    if window and window < config.get("max_position_embeddings", 0):
        raise UnsupportedModel("sliding-window attention is not supported")
    if config.get("mlp_bias") or (model_type != "qwen2" and config.get("attention_bias")):
        raise UnsupportedModel("biases outside Qwen2's q, k and v are not supported")
    return _ARCHITECTURES[model_type]


def _gguf_name(name: str) -> str:
    if name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if name == "model.norm.weight":
        return "output_norm.weight"
    if name == "lm_head.weight":
        return "output.weight"
    parts = name.split(".")
    if parts[:2] != ["model", "layers"] or len(parts) < 5:
        raise UnsupportedModel(f"unexpected weight {name!r}")
    module, kind = ".".join(parts[3:-1]), parts[-1]
    if module not in _LAYER_NAMES:
        raise UnsupportedModel(f"unexpected weight {name!r}")
    return f"blk.{parts[2]}.{_LAYER_NAMES[module]}.{kind}"


def _rotary_pairs(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """Rows of a q or k projection reordered from rotate-half to GGUF's paired rotary layout."""
    return (
        weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).transpose(1, 2).reshape(weight.shape)
    )


def _file_data(shape: tuple[int, ...], rows_of: Callable[[int, int], torch.Tensor]) -> np.ndarray:
    """The tensor of ``shape`` whose rows ``rows_of(start, stop)`` gives (any float dtype), as
    the copy stores it: Q8_0 bytes where its rows split into blocks of 32, else float32. A matrix
    is read and converted a block of rows at a time into its Q8_0 array, so neither the whole
    tensor nor a float32 copy of it is held (an embedding table is the largest tensor)."""
    import gguf

    if len(shape) != 2 or shape[1] % _Q8_BLOCK:
        return rows_of(0, shape[0]).float().numpy()
    stored = np.empty((shape[0], _q8_bytes(shape) // shape[0]), dtype=np.uint8)
    for start in range(0, shape[0], _ROWS_PER_BLOCK):
        stop = min(start + _ROWS_PER_BLOCK, shape[0])
        stored[start:stop] = gguf.quants.quantize(rows_of(start, stop).float().numpy(), gguf.GGMLQuantizationType.Q8_0)
    return stored


def _q8_bytes(shape: tuple[int, ...]) -> int:
    rows, width = shape
    return rows * (width // _Q8_BLOCK) * 34  # 32 int8 values and one float16 scale per block


def export_gguf(folder: Path, target: Path) -> None:
    """Write the chat model in ``folder`` (safetensors) to ``target/model.gguf`` in Q8_0, one
    tensor at a time: one block of its rows (at its own dtype and in float32) and its Q8_0 array
    are alive.

    Raises:
        UnsupportedModel: the family, rotary scaling or attention is not one this engine runs.
    """
    import gguf

    config = json.loads((folder / "config.json").read_text())
    arch = gguf_architecture(config)
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    rope = config.get("rope_parameters") or {}
    files = sorted(folder.glob("*.safetensors"))
    entries = [(file, entry) for file in files for entry in safetensors_file.read_header(file)]
    if config.get("tie_word_embeddings"):
        entries = [(file, entry) for file, entry in entries if entry.name != "lm_head.weight"]
    tensors = [(file, entry.name, entry.shape) for file, entry in entries]
    by_name = {entry.name: entry for _, entry in entries}

    # Plain reads (safetensors_file), a block of rows at a time: an mmap of the file would keep
    # every page the export touched resident (the load peak went from x1.45 to x2.58 of the
    # copy's size when one mapping was held for the whole export).
    def rows_reader(file: Path, name: str) -> Callable[[int, int], torch.Tensor]:
        """Rows of the tensor at the file's dtype; a q or k projection is read whole (its rows
        are reordered across heads) and reordered once."""
        entry = by_name[name]
        permuted_heads = None
        if arch in _PERMUTED and name.endswith("self_attn.q_proj.weight"):
            permuted_heads = heads
        elif arch in _PERMUTED and name.endswith("self_attn.k_proj.weight"):
            permuted_heads = kv_heads
        if permuted_heads is not None:
            with file.open("rb", buffering=0) as handle:
                whole = _rotary_pairs(safetensors_file.read_tensor(handle, entry), permuted_heads)
            return lambda start, stop: whole[start:stop]

        def rows(start: int, stop: int) -> torch.Tensor:
            with file.open("rb", buffering=0) as handle:
                if not entry.shape:
                    return safetensors_file.read_tensor(handle, entry)
                return safetensors_file.read_tensor(handle, entry, rows=(start, stop))

        return rows

    target.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(target / GGUF_FILE, arch)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope.get("rope_theta", config.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_vocab_size(config["vocab_size"])
    writer.add_tokenizer_model("no_vocab")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    for _, name, shape in tensors:
        quantised = len(shape) == 2 and shape[1] % _Q8_BLOCK == 0
        writer.add_tensor_info(
            _gguf_name(name),
            (shape[0], _q8_bytes(shape) // shape[0]) if quantised else shape,
            np.dtype(np.uint8 if quantised else np.float32),
            _q8_bytes(shape) if quantised else int(np.prod(shape)) * 4,
            raw_dtype=gguf.GGMLQuantizationType.Q8_0 if quantised else None,
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for file, name, shape in tensors:
        writer.write_tensor_data(_file_data(shape, rows_reader(file, name)))
        # Each tensor's copies are freed here; glibc would keep the holes they leave between
        # later allocations, and the model loaded next would sit beside them.
        memory.malloc_trim()
    writer.close()


# --- running it ------------------------------------------------------------------------------------


class _EngineReply:
    """One reply: its context in the engine's process, the tokens it was fed (replayed into torch
    if the engine fails mid-reply) and, from then on, torch's state for it."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.context: tuple[int, int] | None = None
        self.fed: list[torch.Tensor] = []
        self.torch_state: Any = None
        self.note = ""


class LlamaCppModel(FallsBackToTorch, DecodeLoop):
    """A chat model's GGUF copy on llama.cpp, as the chat code calls a transformers model:
    ``generation_config``, ``config`` and ``generate(input_ids=..., generation_config=...)``; and,
    being a ``DecodeLoop``, the loader's ``decoder`` for streamed replies.

    llama.cpp runs in its own process (``engine_process``); only token ids and logits cross.
    Where that process crashes, hangs or is disabled, a reply goes on in torch: ``torch_fallback``
    (set by the loader) gives the model's torch decode loop, which is fed the tokens the reply had
    so far and computes the rest, and the reply's note (``take_note``) says so. Without a fallback
    the reply ends with ``EngineFailure``, whose message says what happened.

    Raises (on construction):
        EngineFailure: the engine is disabled for this model or its process did not start.
    """

    def __init__(self, process: EngineProcess, config: Any, generation_config: Any, memory_bytes: int) -> None:
        super().__init__(process)
        self.vocabulary = process.vocabulary
        self.config = config
        self.generation_config = generation_config
        self.max_positions = int(getattr(config, "max_position_embeddings", 0) or 0)
        self.memory_bytes = memory_bytes
        self.device = torch.device("cpu")
        self.training = False

    def _continue_in_torch(self, state: _EngineReply, failure: EngineFailure) -> None:
        """Switches the reply to torch: the tokens fed so far rebuild its cache there."""
        _LOG.warning("llama.cpp %s; the reply goes on in torch", failure.reason)
        decoder = self._torch_model(failure)
        state.torch_state = decoder._reply_state(state.length)
        fed = torch.cat(state.fed) if state.fed else torch.empty(0, dtype=torch.long)
        for start in range(0, fed.numel(), PREFILL_CHUNK):
            decoder._forward(fed[start : start + PREFILL_CHUNK], start, state.torch_state)
        state.note = (
            f"The llama.cpp engine {failure.reason}; torch {'finished' if state.fed else 'answered'} this reply."
        )

    def _reply_state(self, length: int) -> _EngineReply:
        state = _EngineReply(length)
        try:
            state.context = self.process.open_reply(length, PREFILL_CHUNK)
        except EngineFailure as failure:
            self._continue_in_torch(state, failure)
        return state

    def _release(self, state: _EngineReply) -> None:
        if state.context is not None:
            self.process.close_reply(state.context)
        if state.torch_state is not None and self._fallback is not None:
            self._fallback._release(state.torch_state)
        self._leave_note(state.note)

    def _forward(
        self, tokens: torch.Tensor, position: int, state: _EngineReply, every_position: bool = False
    ) -> torch.Tensor:
        if state.torch_state is None:
            assert state.context is not None
            try:
                logits = self.process.forward(state.context, tokens.tolist(), position, every_position)
            except EngineFailure as failure:
                self._continue_in_torch(state, failure)
            else:
                state.fed.append(tokens.reshape(-1))
                return torch.from_numpy(logits.copy())
        assert self._fallback is not None
        return self._fallback._forward(tokens, position, state.torch_state, every_position)

    def generate(  # type: ignore[override] - the decoder's form and a transformers model's
        self,
        input_ids: torch.Tensor,
        config: Any = None,
        streamer: Any = None,
        stop_event: threading.Event | None = None,
        *,
        attention_mask: torch.Tensor | None = None,
        generation_config: Any = None,
        stopping_criteria: Any = None,
    ) -> torch.Tensor:
        """Replies to each row of ``input_ids`` (left-padded, as ``attention_mask`` says), padded
        to one length with the pad token as ``generate`` pads them. ``stopping_criteria`` is taken
        and not used: a streamed reply stops at ``stop_event``."""
        config = config or generation_config or self.generation_config
        if not self.runs(config, int(input_ids.shape[-1])):
            raise ValueError("llama.cpp does not implement these generation options")
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask.bool()
        if input_ids.shape[0] == 1 and bool(mask.all()):
            return super().generate(input_ids, config, streamer, stop_event)
        replies = []
        for ids, keep in zip(input_ids, mask, strict=True):
            prompt = ids[keep.bool()]
            replies.append(super().generate(prompt[None], config)[0, prompt.numel() :])
        width = max(reply.numel() for reply in replies)
        pad = config.pad_token_id if config.pad_token_id is not None else 0
        padded = [torch.cat([r, torch.full((width - r.numel(),), pad, dtype=r.dtype)]) for r in replies]
        return torch.cat([input_ids, torch.stack(padded)], dim=-1)
