"""The native engines' own process: the only code that runs llama.cpp, ONNX Runtime or CTranslate2.

``python -m backend.models.engines.engine_server KIND MODEL THREADS PARENT_PID`` loads one engine's
copy of one model (``KIND`` is the engine's setting name: ``llama.cpp``, ``onnx``, ``ctranslate2``)
and answers the app (``engine_process.EngineProcess``) over its stdin and stdout, one request at a
time, until stdin closes or the app's process is gone. A segfault, abort or hang in native code
ends this process only; the app sees the pipe close or the deadline pass.

Messages both ways are frames: a 4-byte little-endian length, that many bytes of a JSON header,
then the bytes of the arrays the header's ``arrays`` lists (``[name, dtype, shape]`` each, in
order, C-contiguous). Only numbers and token ids cross: tokenising, templates, sampling, softmax
and everything a user sees stay in the app. Requests, per engine:

- llama.cpp (a GGUF copy with no vocabulary):
  ``{"op": "open", "length": n, "batch": b}`` -> ``{"reply": id}``: a context (key/value cache)
  of n positions taking up to b tokens a pass;
  ``{"op": "forward", "reply": id, "tokens": [...], "position": p, "every": bool}`` -> the array
  ``logits`` of the last token (of each, with ``every``); ``{"op": "close", "reply": id}`` -> ``{}``;
- ONNX Runtime (an exported graph): ``{"op": "run", "outputs": [...]}`` with the inputs as arrays
  -> the named outputs as arrays;
- CTranslate2 (a converted translator): ``{"op": "translate", "sources": [[token, ...], ...],
  "options": {...}}`` -> ``{"hypotheses": [[token, ...], ...]}`` (the best hypothesis of each).

One-shot commands make a copy with an engine's own native code, then exit:
``python -m backend.models.engines.engine_server quantize-onnx SOURCE TARGET`` (ONNX Runtime's
dynamic int8 of a float32 graph, ``quantize_onnx``) and ``convert-ctranslate2 FOLDER TARGET``
(``convert_ctranslate2``, the one command that imports torch and transformers), and
``quantize-gguf SOURCE TARGET TYPE THREADS`` (llama.cpp's own quantiser, ``quantize_gguf``).

The first frame, sent once the model is loaded, carries ``system_info`` (and llama.cpp's
``vocabulary``). Every answer carries ``"ok"``; a refused request gets ``{"ok": false, "error":
"..."}`` and the process goes on. This module imports neither torch nor transformers (this process
holds only the engine, its copy of the model and numpy).
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import sys
import threading
import time
from typing import Any, BinaryIO

import numpy as np

_LENGTH = struct.Struct("<I")
# ggml's log levels (ggml.h): errors only, to this process's stderr (the server's log).
_GGML_LOG_ERROR = 4
Arrays = dict[str, np.ndarray]


def write_frame(stream: BinaryIO, header: dict[str, Any], arrays: Arrays | None = None) -> None:
    """One frame: the header's length, the header as JSON (listing ``arrays``), then their bytes."""
    blobs = []
    if arrays:
        listed = []
        for name, array in arrays.items():
            contiguous = np.ascontiguousarray(array)
            listed.append([name, contiguous.dtype.str, list(contiguous.shape)])
            blobs.append(contiguous.tobytes())
        header = {**header, "arrays": listed}
    encoded = json.dumps(header).encode()
    # One write: the reader reads a frame whole once its first byte is there.
    stream.write(b"".join([_LENGTH.pack(len(encoded)), encoded, *blobs]))
    stream.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytearray | None:
    # A bytearray: the arrays read from it are writable (torch takes them without a copy).
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(stream: BinaryIO) -> tuple[dict[str, Any], Arrays] | None:
    """The next frame's header and arrays, or None at the end of the stream."""
    length = _read_exactly(stream, _LENGTH.size)
    if length is None:
        return None
    header = _read_exactly(stream, _LENGTH.unpack(length)[0])
    if header is None:
        return None
    decoded = json.loads(header)
    arrays: Arrays = {}
    for name, dtype, shape in decoded.pop("arrays", []):
        kind = np.dtype(dtype)
        data = _read_exactly(stream, kind.itemsize * int(np.prod(shape, dtype=np.int64)))
        if data is None:
            return None
        arrays[name] = np.frombuffer(data, dtype=kind).reshape(shape)
    return decoded, arrays


class _LlamaCpp:
    """A GGUF copy loaded into llama.cpp, and the replies' contexts."""

    def __init__(self, path: str, threads: int) -> None:
        import llama_cpp

        def log(level: int, text: bytes, _data: Any) -> None:
            if level == _GGML_LOG_ERROR:
                sys.stderr.write(f"llama.cpp: {text.decode('utf-8', 'replace').rstrip()}\n")

        self._log = llama_cpp.llama_log_callback(log)  # kept: C holds only a pointer to it
        llama_cpp.llama_log_set(self._log, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 0
        self.lib = llama_cpp
        self.model = llama_cpp.llama_model_load_from_file(path.encode(), params)
        if not self.model:
            raise OSError(f"llama.cpp could not load {os.path.basename(path)}")
        self.vocabulary = int(llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self.model)))
        self.threads = threads
        self.replies: dict[int, tuple[Any, Any]] = {}
        self._next_reply = 0

    def start_info(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary, "system_info": self.lib.llama_print_system_info().decode()}

    def answer(self, request: dict[str, Any], _arrays: Arrays) -> tuple[dict[str, Any], Arrays | None]:
        if request["op"] == "open":
            return {"reply": self.open(int(request["length"]), int(request["batch"]))}, None
        if request["op"] == "forward":
            logits = self.forward(
                int(request["reply"]), list(request["tokens"]), int(request["position"]), bool(request["every"])
            )
            return {}, {"logits": logits.astype(np.float32)}
        if request["op"] == "close":
            self.close(int(request["reply"]))
            return {}, None
        raise ValueError(f"unknown request {request['op']!r}")

    def open(self, length: int, batch: int) -> int:
        params = self.lib.llama_context_default_params()
        params.n_ctx = length
        params.n_batch = params.n_ubatch = min(batch, length)
        params.n_threads = params.n_threads_batch = self.threads
        params.no_perf = True
        context = self.lib.llama_init_from_model(self.model, params)
        if not context:
            raise MemoryError(f"llama.cpp could not make a context of {length} positions")
        self._next_reply += 1
        self.replies[self._next_reply] = (context, self.lib.llama_batch_init(params.n_batch, 0, 1))
        return self._next_reply

    def close(self, reply: int) -> None:
        context, batch = self.replies.pop(reply)
        self.lib.llama_batch_free(batch)
        self.lib.llama_free(context)

    def forward(self, reply: int, tokens: list[int], position: int, every: bool) -> np.ndarray:
        context, batch = self.replies[reply]
        count = len(tokens)
        batch.n_tokens = count
        for index, token in enumerate(tokens):
            batch.token[index] = token
            batch.pos[index] = position + index
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = 0
            batch.logits[index] = every or index == count - 1
        status = self.lib.llama_decode(context, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")
        rows = count if every else 1
        pointer = ctypes.cast(self.lib.llama_get_logits(context), ctypes.POINTER(ctypes.c_float))
        return np.ctypeslib.as_array(pointer, (rows, self.vocabulary)).copy()


class _OnnxRuntime:
    """An exported graph (``model.onnx`` and its weights file beside it) in an ONNX Runtime session."""

    def __init__(self, path: str, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No spinning after a run: the app's other models (torch) share these cores, and an idle pool
        # spinning took about 23 ms of CPU from each 10 ms torch request after it (benchmarks/RESULTS.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.version = onnxruntime.__version__

    def start_info(self) -> dict[str, Any]:
        return {
            "system_info": f"onnxruntime {self.version}",
            "inputs": [item.name for item in self.session.get_inputs()],
        }

    def answer(self, request: dict[str, Any], arrays: Arrays) -> tuple[dict[str, Any], Arrays | None]:
        if request["op"] != "run":
            raise ValueError(f"unknown request {request['op']!r}")
        outputs = [str(name) for name in request["outputs"]]
        return {}, dict(zip(outputs, self.session.run(outputs, arrays), strict=True))


# What a translation request may set: CTranslate2's own decoding options, nothing else.
_TRANSLATE_OPTIONS = ("beam_size", "max_decoding_length", "length_penalty", "repetition_penalty",
                      "no_repeat_ngram_size", "target_prefix")  # fmt: skip


class _CTranslate2:
    """A converted translator (float32, as torch computes it) in a CTranslate2 ``Translator``."""

    def __init__(self, path: str, threads: int) -> None:
        import ctranslate2

        self.translator = ctranslate2.Translator(
            path, device="cpu", compute_type="float32", inter_threads=1, intra_threads=threads
        )
        self.version = ctranslate2.__version__

    def start_info(self) -> dict[str, Any]:
        return {"system_info": f"ctranslate2 {self.version}"}

    def answer(self, request: dict[str, Any], _arrays: Arrays) -> tuple[dict[str, Any], Arrays | None]:
        if request["op"] != "translate":
            raise ValueError(f"unknown request {request['op']!r}")
        options = {name: value for name, value in dict(request["options"]).items() if name in _TRANSLATE_OPTIONS}
        sources = [[str(token) for token in source] for source in request["sources"]]
        results = self.translator.translate_batch(sources, return_end_token=True, **options)
        return {"hypotheses": [result.hypotheses[0] for result in results]}, None


# Keyed by the engine's setting name (``engine_choice``); imported lazily, each in its own process.
ENGINES = {"llama.cpp": _LlamaCpp, "onnx": _OnnxRuntime, "ctranslate2": _CTranslate2}


def _watch_parent(parent: int) -> None:
    """Ends this process once the app's process is gone (its pipe may stay open in a forked child)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def serve(kind: str, path: str, threads: int, parent: int) -> None:
    # The protocol owns the original stdout; anything native code prints goes to stderr instead.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()
    try:
        engine = ENGINES[kind](path, threads)
    except Exception as error:  # noqa: BLE001 - the app reads why, then this process ends
        write_frame(answers, {"ok": False, "error": f"{type(error).__name__}: {error}"})
        return
    write_frame(answers, {"ok": True, **engine.start_info()})
    while (frame := read_frame(requests)) is not None:
        request, arrays = frame
        try:
            header, outputs = engine.answer(request, arrays)
        except Exception as error:  # noqa: BLE001 - a refused request is answered; the process goes on
            write_frame(answers, {"ok": False, "error": f"{type(error).__name__}: {error}"})
        else:
            write_frame(answers, {"ok": True, **header}, outputs)


def quantize_onnx(source: str, target: str) -> None:
    """ONNX Runtime's dynamic int8 of the float32 graph ``source``, written to ``target``: the
    MatMul weights in int8 with a scale per tensor, activations quantised per request, as torch's
    dynamic int8 takes the Linear layers (embeddings, norms and softmax stay float32). Run here, in a
    process of its own, because the quantiser runs ONNX Runtime's native code."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(source, target, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)


def quantize_gguf(source: str, target: str, kind: str, threads: int) -> None:
    """The GGUF ``source`` requantised to ``kind`` (``Q4_K_M``) in ``target`` by llama.cpp's own
    quantiser; its 8-bit blocks are requantised (``allow_requantize``), as llama.cpp's tool does
    when asked."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.allow_requantize = True
    params.nthread = threads
    status = int(llama_cpp.llama_model_quantize(source.encode(), target.encode(), params))
    if status:
        raise SystemExit(f"llama.cpp's quantiser returned {status}")


def convert_ctranslate2(folder: str, target: str) -> None:
    """CTranslate2's float32 copy of the MarianMT model in ``folder``, written to ``target``: the
    converter loads CTranslate2's native library and writes the copy through it (and reads the
    model with transformers, so this one-shot command imports torch)."""
    from ctranslate2.converters import TransformersConverter

    class _SafeConverter(TransformersConverter):
        # Our own folder's safetensors only, never the hub, never remote code.
        def load_model(self, model_class: Any, path: str, **kwargs: Any) -> Any:
            kwargs.pop("trust_remote_code", None)
            return model_class.from_pretrained(
                path, use_safetensors=True, local_files_only=True, trust_remote_code=False, **kwargs
            )

        def load_tokenizer(self, tokenizer_class: Any, path: str, **kwargs: Any) -> Any:
            return tokenizer_class.from_pretrained(path, local_files_only=True, trust_remote_code=False)

    _SafeConverter(folder, low_cpu_mem_usage=True).convert(target, quantization="float32")


if __name__ == "__main__":
    if sys.argv[1] == "quantize-onnx":
        quantize_onnx(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "quantize-gguf":
        quantize_gguf(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif sys.argv[1] == "convert-ctranslate2":
        convert_ctranslate2(sys.argv[2], sys.argv[3])
    else:
        serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
