"""The llama.cpp engine's own process: the only code that calls llama.cpp's C API.

``python -m backend.models.engines.llama_cpp_server MODEL.gguf THREADS PARENT_PID`` loads the GGUF
copy and answers the app (``llama_cpp_process.EngineProcess``) over its stdin and stdout, one
request at a time, until stdin closes or the app's process is gone. A segfault, abort or hang in
native code ends this process only; the app sees the pipe close or the deadline pass.

Messages both ways are frames: a 4-byte little-endian length, that many bytes of a JSON header,
then, where the header has ``bytes``, that many bytes of float32 logits (row-major). Requests:

- ``{"op": "open", "length": n, "batch": b}`` -> ``{"reply": id}``: a context (key/value cache) of
  n positions taking up to b tokens a pass;
- ``{"op": "forward", "reply": id, "tokens": [...], "position": p, "every": bool}`` ->
  ``{"rows": r, "bytes": b}`` and the logits of the last token (of each, with ``every``);
- ``{"op": "close", "reply": id}`` -> ``{}``.

``python -m backend.models.engines.llama_cpp_server --quantize SOURCE.gguf TARGET.gguf TYPE THREADS``
writes ``SOURCE``'s weights quantised to ``TYPE`` (``Q4_K_M``) into ``TARGET`` and ends: llama.cpp's
own quantiser, here so that it too runs outside the app's process (``runtimes.quantised_gguf``).

The first frame, sent once the model is loaded, is ``{"vocabulary": n, "system_info": "..."}``.
Every answer carries ``"ok"``; a refused request gets ``{"ok": false, "error": "..."}`` and the
process goes on. This module imports neither torch nor transformers (this process holds only the
model's mapped file and llama.cpp).
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


def write_frame(stream: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    """One frame: the header's length, the header as JSON, then ``payload`` (its size in ``bytes``)."""
    if payload:
        header = {**header, "bytes": len(payload)}
    encoded = json.dumps(header).encode()
    stream.write(_LENGTH.pack(len(encoded)) + encoded + payload)
    stream.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(stream: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    """The next frame's header and payload, or None at the end of the stream."""
    length = _read_exactly(stream, _LENGTH.size)
    if length is None:
        return None
    header = _read_exactly(stream, _LENGTH.unpack(length)[0])
    if header is None:
        return None
    decoded = json.loads(header)
    payload = _read_exactly(stream, int(decoded.get("bytes", 0))) if decoded.get("bytes") else b""
    return (decoded, payload) if payload is not None else None


class _Model:
    """The GGUF copy loaded into llama.cpp, and the replies' contexts."""

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

    def system_info(self) -> str:
        return self.lib.llama_print_system_info().decode()

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


def _watch_parent(parent: int) -> None:
    """Ends this process once the app's process is gone (its pipe may stay open in a forked child)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def serve(path: str, threads: int, parent: int) -> None:
    # The protocol owns the original stdout; anything native code prints goes to stderr instead.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()
    try:
        model = _Model(path, threads)
    except Exception as error:  # noqa: BLE001 - the app reads why, then this process ends
        write_frame(answers, {"ok": False, "error": f"{type(error).__name__}: {error}"})
        return
    write_frame(answers, {"ok": True, "vocabulary": model.vocabulary, "system_info": model.system_info()})
    while (frame := read_frame(requests)) is not None:
        request = frame[0]
        try:
            if request["op"] == "open":
                write_frame(answers, {"ok": True, "reply": model.open(int(request["length"]), int(request["batch"]))})
            elif request["op"] == "forward":
                logits = model.forward(
                    int(request["reply"]), list(request["tokens"]), int(request["position"]), bool(request["every"])
                )
                write_frame(answers, {"ok": True, "rows": logits.shape[0]}, logits.astype(np.float32).tobytes())
            elif request["op"] == "close":
                model.close(int(request["reply"]))
                write_frame(answers, {"ok": True})
            else:
                write_frame(answers, {"ok": False, "error": f"unknown request {request['op']!r}"})
        except (KeyError, ValueError, RuntimeError, MemoryError) as error:
            write_frame(answers, {"ok": False, "error": f"{type(error).__name__}: {error}"})


def quantize(source: str, target: str, kind: str, threads: int) -> int:
    """``source`` requantised to ``kind`` in ``target``: 0, or llama.cpp's non-zero status. Its
    8-bit blocks are requantised (``allow_requantize``), as llama.cpp's own tool does when asked."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.allow_requantize = True
    params.nthread = threads
    return int(llama_cpp.llama_model_quantize(source.encode(), target.encode(), params))


if __name__ == "__main__":
    if sys.argv[1] == "--quantize":
        sys.exit(quantize(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
