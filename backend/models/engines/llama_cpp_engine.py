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

Each reply gets its own llama.cpp context (its key/value cache, sized to the reply), so replies
may run at once over the one memory-mapped model.
"""

from __future__ import annotations

import ctypes
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backend.models import memory
from backend.models.engines.compact_decoder import PREFILL_CHUNK, DecodeLoop

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


def _architecture(config: dict[str, Any]) -> str:
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
    from safetensors import safe_open

    config = json.loads((folder / "config.json").read_text())
    arch = _architecture(config)
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    rope = config.get("rope_parameters") or {}
    files = sorted(folder.glob("*.safetensors"))
    tensors: list[tuple[Path, str, tuple[int, ...]]] = []
    for file in files:
        with safe_open(file, "pt") as handle:
            tensors += [(file, name, tuple(handle.get_slice(name).get_shape())) for name in handle.keys()]  # noqa: SIM118 - not iterable
    if config.get("tie_word_embeddings"):
        tensors = [tensor for tensor in tensors if tensor[1] != "lm_head.weight"]

    # A file is opened again for each read: the pages a read touches stay resident while its
    # handle's mapping is open, so one handle kept for the whole export held every tensor read
    # (the load peak went from x1.45 to x2.58 of the copy's size).
    def rows_reader(file: Path, name: str) -> Callable[[int, int], torch.Tensor]:
        """Rows of the tensor at the file's dtype; a q or k projection is read whole (its rows
        are reordered across heads) and reordered once."""
        permuted_heads = None
        if arch in _PERMUTED and name.endswith("self_attn.q_proj.weight"):
            permuted_heads = heads
        elif arch in _PERMUTED and name.endswith("self_attn.k_proj.weight"):
            permuted_heads = kv_heads
        if permuted_heads is not None:
            with safe_open(file, "pt") as handle:
                whole = _rotary_pairs(handle.get_tensor(name), permuted_heads)
            return lambda start, stop: whole[start:stop]

        def rows(start: int, stop: int) -> torch.Tensor:
            with safe_open(file, "pt") as handle:
                return handle.get_slice(name)[start:stop]

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

_BACKEND_LOCK = threading.Lock()
_LOG = logging.getLogger(__name__)
# ggml's log levels (ggml.h): llama-cpp-python's own callback predates DEBUG=1 and prints warnings
# as errors, so llama.cpp's log goes through this one, errors only.
_GGML_LOG_ERROR = 4
_log_callback: Any = None


def _library() -> Any:
    """llama.cpp's C API, initialised once, its log passed to ours (errors only)."""
    global _log_callback
    import llama_cpp

    with _BACKEND_LOCK:
        if _log_callback is None:

            def log(level: int, text: bytes, _data: Any) -> None:
                if level == _GGML_LOG_ERROR:
                    _LOG.error("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

            _log_callback = llama_cpp.llama_log_callback(log)  # kept: C holds only a pointer to it
            llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
            llama_cpp.llama_backend_init()
    return llama_cpp


class _Reply:
    """One reply's llama.cpp context (its key/value cache) and token batch."""

    def __init__(self, lib: Any, model: Any, length: int, threads: int) -> None:
        params = lib.llama_context_default_params()
        params.n_ctx = length
        params.n_batch = params.n_ubatch = min(PREFILL_CHUNK, length)
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self.lib = lib
        self.context = lib.llama_init_from_model(model, params)
        if not self.context:
            raise MemoryError(f"llama.cpp could not make a context of {length} positions")
        self.batch = lib.llama_batch_init(params.n_batch, 0, 1)

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)
        self.lib.llama_free(self.context)


class LlamaCppModel(DecodeLoop):
    """A chat model's GGUF copy on llama.cpp, as the chat code calls a transformers model:
    ``generation_config``, ``config`` and ``generate(input_ids=..., generation_config=...)``; and,
    being a ``DecodeLoop``, the loader's ``decoder`` for streamed replies."""

    def __init__(self, gguf_file: Path, config: Any, generation_config: Any) -> None:
        lib = _library()
        params = lib.llama_model_default_params()
        params.n_gpu_layers = 0
        self._lib = lib
        self._model = lib.llama_model_load_from_file(str(gguf_file).encode(), params)
        if not self._model:
            raise OSError(f"llama.cpp could not load {gguf_file.name}")
        self.vocabulary = int(lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self._model)))
        self.config = config
        self.generation_config = generation_config
        self.max_positions = int(getattr(config, "max_position_embeddings", 0) or 0)
        self.memory_bytes = gguf_file.stat().st_size
        self.device = torch.device("cpu")
        self.training = False

    def __del__(self) -> None:
        model = getattr(self, "_model", None)
        if model:
            self._lib.llama_model_free(model)
            self._model = None

    def _reply_state(self, length: int) -> _Reply:
        return _Reply(self._lib, self._model, length, max(1, torch.get_num_threads()))

    def _release(self, state: _Reply) -> None:
        state.close()

    def _forward(
        self, tokens: torch.Tensor, position: int, state: _Reply, every_position: bool = False
    ) -> torch.Tensor:
        batch, count = state.batch, tokens.numel()
        batch.n_tokens = count
        for index, token in enumerate(tokens.tolist()):
            batch.token[index] = token
            batch.pos[index] = position + index
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = 0
            batch.logits[index] = every_position or index == count - 1
        status = self._lib.llama_decode(state.context, batch)
        if status != 0:
            raise RuntimeError(f"llama.cpp could not run the model (llama_decode returned {status})")
        outputs = count if every_position else 1
        pointer = self._lib.llama_get_logits(state.context)
        logits = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), (outputs, self.vocabulary))
        return torch.from_numpy(logits.copy())

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
