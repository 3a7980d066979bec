"""Other inference engines for the CPU demos: ONNX Runtime (sentiment), CTranslate2 (translation) and
llama.cpp (chat, in ``llama_cpp_engine``).

The first two run the same weights as torch, faster on a CPU, for one request as for a batch: ONNX Runtime
fuses the encoder's graph and runs it without Python between the layers; CTranslate2 decodes a
MarianMT translation in C++, where ``generate`` spends most of a short sentence's time in Python
between decoder steps. Neither computes bfloat16 on a CPU, so both run float32 and give float32's
answers (``benchmarks/RESULTS.md`` has the figures and the equivalence checks).

Chosen per task by the ``cpu_engine`` setting (``LSM_CPU_ENGINE=sentiment=onnx,translation=ctranslate2``;
a bare engine name means every task that engine serves); torch stays the default for these two
because no real weights of their demos could be checked here (see RESULTS.md). On a GPU, for a
hub id with no local folder, and for fast-mode fine-tunes (an encoder plus a linear head) the
model runs in torch whatever the setting says.

The engine's copy of a model is made once, from the folder's own safetensors weights loaded by
transformers (``use_safetensors=True``, never remote code), and cached beside them in
``<model folder>/.lsm-engines/<engine>-<version>/``: written into a hidden partial folder and
renamed into place when complete, and made again when the weights, the config, the engine's
version or the layout of its copy change (``export.json`` records them).

Every engine runs in a process of its own (``engine_process``, ``engine_server``): only token ids,
tensors and tokens cross the pipe, tokenising stays here, and a crash or hang there ends only that
process while the request is answered in torch (``FallsBackToTorch``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from backend.errors import ShowcaseError, UntrainedWeightsError
from backend.i18n import _
from backend.models import memory
from backend.models.engines import engine_process, engine_server
from backend.models.engines.engine_process import FallsBackToTorch
from backend.models.resolve import catalogue, engine_choice

CACHE_FOLDER = ".lsm-engines"
_STAMP_FILE = "export.json"
# The layout of an engine's cached copy, raised when it changes so that copies made by an older
# version are made again. ONNX 2: weights in ``model.onnx.data`` beside the graph (1: one file).
# An engine not listed is on its first layout (its stamps carry no format).
_FORMATS = {engine_choice.ONNX: 2}


# --- the cache beside the model ------------------------------------------------------------


def _stamp(folder: Path, engine: str) -> dict[str, object]:
    """What the cached copy was made from: weight files (size, time), config, engine version."""
    files = sorted(folder.glob("*.safetensors"))
    config = hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()
    stamp: dict[str, object] = {
        "engine": engine,
        "version": metadata.version(engine_choice.PACKAGES[engine]),
        "config_sha256": config,
        "weights": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files],
    }
    if engine in _FORMATS:
        stamp["format"] = _FORMATS[engine]
    return stamp


def cached_copy(folder: Path, engine: str, build: Callable[[Path], None], variant: str = "") -> Path:
    """The folder holding ``engine``'s copy of the model in ``folder`` (its ``variant``, such as
    "int8", beside the plain copy), built by ``build(target)`` the first time (or when the model
    changed), atomically: a load never sees half a copy, and two processes building at once both
    end with one complete copy."""
    stamp = _stamp(folder, engine)
    root = folder / CACHE_FOLDER
    target = root / f"{engine}-{stamp['version']}"
    if variant:
        stamp["variant"] = variant
        target = root / f"{engine}.{variant}-{stamp['version']}"
    if _stamp_of(target) == stamp:
        return target
    root.mkdir(exist_ok=True)
    partial = root / f".partial-{uuid.uuid4().hex}"
    try:
        build(partial)
        (partial / _STAMP_FILE).write_text(json.dumps(stamp))
        if target.exists():
            stale = root / f".stale-{uuid.uuid4().hex}"
            target.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(partial, target)
        except OSError:
            if _stamp_of(target) != stamp:  # not another process's fresh copy: a real failure
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def copy_folders(folder: Path, engine: str, variant: str = "") -> list[Path]:
    """The cached copies of ``engine`` (its ``variant``) of the model in ``folder``, oldest
    version first (``cached_copy`` names them)."""
    prefix = f"{engine}.{variant}-" if variant else f"{engine}-"
    return sorted((folder / CACHE_FOLDER).glob(f"{prefix}*"))


def _stamp_of(target: Path) -> dict[str, object] | None:
    try:
        return json.loads((target / _STAMP_FILE).read_text())
    except (OSError, ValueError):
        return None


def cached_bytes(target: Path) -> int:
    """Bytes of the engine's model files (what its weights take in memory, roughly)."""
    return sum(f.stat().st_size for f in target.iterdir() if f.is_file() and f.name != _STAMP_FILE)


def _threads() -> int:
    return max(1, torch.get_num_threads())


# --- ONNX Runtime: encoders --------------------------------------------------------------------


class _Outputs(torch.nn.Module):
    """A transformers model as a function of positional tensors returning one output (what the
    ONNX exporter traces)."""

    def __init__(self, model: torch.nn.Module, names: list[str], output: str) -> None:
        super().__init__()
        self.model, self.names, self.output = model, names, output

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return getattr(self.model(**dict(zip(self.names, tensors, strict=True))), self.output)


# The weights beside the graph. A one-file model is read whole into a buffer and every weight is
# copied out of it, both alive at once: a load's peak was ×1.64-1.70 the weights' size. From this
# file ONNX Runtime reads each weight on its own and maps page-aligned ones (the embedding table,
# written first) instead of reading them, so only the rows a text uses are ever paged in:
# ×0.33-0.74 with one inference, the same latency, and a load 2-7x faster (RESULTS.md).
ONNX_WEIGHTS = "model.onnx.data"


def export_onnx(model: torch.nn.Module, tokenizer: Any, output: str, target: Path) -> None:
    """Export ``model`` (float32, eager attention) to ``target/model.onnx`` with its weights in
    ``target/model.onnx.data``, its inputs the tokenizer's and ``output`` its one output, with
    batch and sequence length dynamic."""
    import inspect
    import warnings

    import onnx

    accepted = inspect.signature(model.forward).parameters
    names = [name for name in tokenizer.model_input_names if name in accepted]
    # Two texts of different lengths: the traced graph then takes the padding-mask path, which is
    # right for every input (an unpadded example could trace a mask-free shortcut).
    sample = tokenizer(["a short text", "a longer text that the other one is padded to"], padding=True,
                       return_tensors="pt")  # fmt: skip
    target.mkdir(parents=True)
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Outputs(model.eval(), names, output),
            tuple(sample[name] for name in names),
            str(target / "traced.onnx"),
            input_names=names,
            output_names=[output],
            dynamic_axes={**axes, output: {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    # torch's TorchScript exporter writes one file (weights inside) below 2 GB; saved again with
    # every weight in one file beside the graph (small tensors stay inside: 1 KiB threshold).
    traced = onnx.load(str(target / "traced.onnx"))
    onnx.save_model(traced, str(target / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=ONNX_WEIGHTS, size_threshold=1024)  # fmt: skip
    # onnx creates the weights file readable by its owner only; give it the graph's (umask) mode, so
    # that whoever can read model.onnx can load it.
    (target / ONNX_WEIGHTS).chmod((target / "model.onnx").stat().st_mode & 0o777)
    for leftover in target.iterdir():
        if leftover.name not in ("model.onnx", ONNX_WEIGHTS):
            leftover.unlink()


def _load_float32(auto_class: str, folder: Path) -> Any:
    import transformers

    model, loading_info = getattr(transformers, auto_class).from_pretrained(
        folder, dtype=torch.float32, use_safetensors=True, local_files_only=True, trust_remote_code=False,
        attn_implementation="eager", output_loading_info=True,
    )  # fmt: skip
    if loading_info["missing_keys"]:
        # Never export random weights; the loader falls back to torch, whose check names the model.
        raise UntrainedWeightsError(
            _("{name} lacks {missing_keys} trained weights.").format(
                name=folder.name, missing_keys=len(loading_info["missing_keys"])
            )
        )
    return model.eval()


class OnnxModel(FallsBackToTorch):
    """An exported model as the inference modules call a transformers one: ``model(**batch)``
    returns an object with the output as a torch tensor; ``config`` is the transformers config.

    ONNX Runtime runs in the engine's process (``engine_process``): the token ids go there and the
    output comes back; where that process fails, the request is answered in torch (with a note).
    """

    def __init__(self, folder: Path, config: Any, output: str, label: str) -> None:
        model_file = folder / "model.onnx"
        super().__init__(engine_process.process_for(engine_choice.ONNX, model_file, _threads(), label))
        self.config = config
        self.output = output
        self.input_names = [str(name) for name in self.process.start_info.get("inputs", [])]
        self.memory_bytes = cached_bytes(folder)
        self.training = False

    def __call__(self, **batch: torch.Tensor) -> SimpleNamespace:
        feeds = {name: batch[name].cpu().numpy().astype(np.int64, copy=False) for name in self.input_names}
        try:
            _answer, outputs = self.process.request({"op": "run", "outputs": [self.output]}, feeds)
        except engine_process.EngineFailure as failure:
            return self.answered_by_torch(failure)(**batch)
        return SimpleNamespace(**{self.output: torch.from_numpy(outputs[self.output])})


def onnx_classifier(folder: Path, int8: bool = False) -> tuple[OnnxModel, Any]:
    """The sequence classifier in ``folder`` on ONNX Runtime (its dynamic int8 copy with ``int8``),
    and its tokenizer."""
    return _onnx_model(folder, "AutoModelForSequenceClassification", "logits", int8)


def onnx_encoder(folder: Path) -> tuple[OnnxModel, Any]:
    """The bare encoder in ``folder`` (``last_hidden_state``) on ONNX Runtime, and its tokenizer:
    the sentence embedder's transformer (the real-weight check of the export, and the benchmark)."""
    return _onnx_model(folder, "AutoModel", "last_hidden_state")


def _in_child(what: str, *arguments: str, timeout: float = engine_process.START_DEADLINE_S) -> None:
    """Runs ``engine_server``'s one-shot command ``what`` (a copy made by an engine's own native
    code) in a process of its own: a crash there fails the copy, not the app.

    Raises:
        RuntimeError: the command failed; its reason and the end of its output.
    """
    command = [sys.executable, "-m", engine_server.__name__, what, *arguments]
    done = subprocess.run(command, env=engine_process.child_environment(), capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{what} {engine_process.describe_exit(done.returncode)}: {done.stderr[-800:]}")


def _quantize_onnx(float_copy: Path, target: Path) -> None:
    """ONNX Runtime's dynamic int8 of the float32 copy (``engine_server.quantize_onnx``)."""
    target.mkdir(parents=True)
    _in_child("quantize-onnx", str(float_copy / "model.onnx"), str(target / "model.onnx"))


def _onnx_model(folder: Path, auto_class: str, output: str, int8: bool = False) -> tuple[OnnxModel, Any]:
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)

    def build(target: Path) -> None:
        export_onnx(_load_float32(auto_class, folder), tokenizer, output, target)

    target = cached_copy(folder, engine_choice.ONNX, build)
    if int8:
        float_copy = target
        target = cached_copy(folder, engine_choice.ONNX, lambda made: _quantize_onnx(float_copy, made), "int8")
    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    return OnnxModel(target, config, output, folder.name + (" (int8)" if int8 else "")), tokenizer


# --- CTranslate2: MarianMT translation ---------------------------------------------------------


@dataclass
class _Special:
    start: int
    eos: int | None
    pad: int


class CTranslate2Seq2Seq(FallsBackToTorch):
    """A converted MarianMT model as ``translation`` calls a transformers one:
    ``generate(input_ids=..., attention_mask=..., generation_config=...)`` returns the token ids
    (decoder start first, end token last, padded), as ``generate`` does.

    CTranslate2 runs in the engine's process (``engine_process``): the source tokens go there and
    the best hypothesis of each comes back; where that process fails, torch translates (with a note).
    """

    def __init__(self, folder: Path, tokenizer: Any, config: Any, generation_config: Any, label: str) -> None:
        super().__init__(engine_process.process_for(engine_choice.CTRANSLATE2, folder, _threads(), label))
        self.tokenizer = tokenizer
        self.config = config
        self.generation_config = generation_config
        self.memory_bytes = cached_bytes(folder)
        self.training = False
        pad = config.pad_token_id if config.pad_token_id is not None else 0
        start = config.decoder_start_token_id if config.decoder_start_token_id is not None else pad
        self._special = _Special(start=start, eos=config.eos_token_id, pad=pad)

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, generation_config: Any) -> torch.Tensor:
        sources = [
            self.tokenizer.convert_ids_to_tokens([i for i, keep in zip(ids, mask, strict=True) if keep])
            for ids, mask in zip(input_ids.tolist(), attention_mask.tolist(), strict=True)
        ]
        config = generation_config
        # generate's max_length counts the decoder start token; a forced end token takes the last place.
        forced_eos = getattr(config, "forced_eos_token_id", None)
        steps = max(1, config.max_length - 1 - (1 if forced_eos is not None else 0))
        # A many-to-many model's target language token (``forced_bos_token_id``) starts every output.
        forced_bos = getattr(config, "forced_bos_token_id", None)
        language = [self.tokenizer.convert_ids_to_tokens([forced_bos])] if forced_bos is not None else None
        options = {
            "beam_size": max(1, int(config.num_beams or 1)),
            "max_decoding_length": steps,
            "length_penalty": float(getattr(config, "length_penalty", 1.0) or 1.0),
            "repetition_penalty": float(getattr(config, "repetition_penalty", 1.0) or 1.0),
            "no_repeat_ngram_size": int(getattr(config, "no_repeat_ngram_size", 0) or 0),
            "target_prefix": language and language * len(sources),
        }
        try:
            answer, _arrays = self.process.request({"op": "translate", "sources": sources, "options": options})
        except engine_process.EngineFailure as failure:
            model = self.answered_by_torch(failure)
            return model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=config)
        special = self._special
        rows = []
        for hypothesis in answer["hypotheses"]:
            ids = self.tokenizer.convert_tokens_to_ids(hypothesis)
            if forced_eos is not None and (not ids or ids[-1] != special.eos):
                ids.append(forced_eos)
            rows.append([special.start, *ids])
        width = max(len(row) for row in rows)
        return torch.tensor([row + [special.pad] * (width - len(row)) for row in rows], dtype=torch.long)


def _transformers_parts(folder: Path) -> tuple[Any, Any, Any]:
    """The tokenizer, config and generation config in ``folder``, as an engine's model wraps them
    (local files only, never remote code)."""
    import transformers

    options = {"local_files_only": True, "trust_remote_code": False}
    tokenizer = memory.without_parse_garbage(transformers.AutoTokenizer.from_pretrained(folder, **options))
    config = transformers.AutoConfig.from_pretrained(folder, **options)
    generation = (
        transformers.GenerationConfig.from_pretrained(folder, local_files_only=True)
        if (folder / "generation_config.json").is_file()
        else transformers.GenerationConfig.from_model_config(config)
    )
    return tokenizer, config, generation


def ctranslate2_translator(folder: Path) -> tuple[CTranslate2Seq2Seq, Any]:
    """The MarianMT model in ``folder`` on CTranslate2, and its tokenizer."""
    tokenizer, config, generation = _transformers_parts(folder)
    target = cached_copy(
        folder, engine_choice.CTRANSLATE2, lambda target: _in_child("convert-ctranslate2", str(folder), str(target))
    )
    return CTranslate2Seq2Seq(target, tokenizer, config, generation, folder.name), tokenizer


# --- llama.cpp: chat models -------------------------------------------------------------------------


GGUF_TYPES = ("Q4_K_M",)  # the quantisations made from the 8-bit copy
QUANTISE_TIMEOUT_S = 1800  # a 7B model's 8-bit copy requantised on two busy cores


def gguf_name(gguf_type: str = "") -> str:
    """The file name of the ``gguf_type`` GGUF in llama.cpp's copy folder (its own 8-bit one for "")."""
    from backend.models.engines import llama_cpp_engine

    return f"model-{gguf_type.lower()}.gguf" if gguf_type else llama_cpp_engine.GGUF_FILE


def quantised_gguf(copy: Path, gguf_type: str) -> Path:
    """The ``gguf_type`` (``Q4_K_M``) GGUF beside the 8-bit copy in ``copy``, made once from it by
    llama.cpp's quantiser in a child process (native code never runs in the app's), written under a
    partial name and renamed into place.

    Raises:
        ShowcaseError: the quantiser failed, crashed or ran past ``QUANTISE_TIMEOUT_S``.
    """
    from backend.models.engines import llama_cpp_engine

    if gguf_type not in GGUF_TYPES:
        raise ShowcaseError(_("llama.cpp makes no {kind} copy here.").format(kind=gguf_type))
    target = copy / gguf_name(gguf_type)
    if target.is_file():
        return target
    partial = copy / f".partial-{uuid.uuid4().hex}.gguf"
    try:
        _in_child("quantize-gguf", str(copy / llama_cpp_engine.GGUF_FILE), str(partial), gguf_type, str(_threads()),
                  timeout=QUANTISE_TIMEOUT_S)  # fmt: skip
        if not partial.is_file():
            raise RuntimeError("quantize-gguf wrote nothing")
        os.replace(partial, target)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        raise ShowcaseError(
            _("llama.cpp could not make the {kind} copy ({reason}).").format(kind=gguf_type, reason=str(error)[-300:])
        ) from error
    finally:
        partial.unlink(missing_ok=True)
    return target


def llama_cpp_chat(folder: Path, gguf_type: str = "") -> tuple[Any, Any]:
    """The chat model in ``folder`` on llama.cpp (its 8-bit GGUF copy made once, or that copy
    requantised to ``gguf_type``), and its tokenizer.

    Raises:
        UnsupportedModel: a model llama.cpp does not compute as transformers does.
        EngineFailure: the engine is off for this model (its reason on the Models page) or its
            process did not start.
    """
    from backend.models.engines import llama_cpp_engine

    tokenizer, config, generation = _transformers_parts(folder)
    target = cached_copy(folder, engine_choice.LLAMA_CPP, lambda target: llama_cpp_engine.export_gguf(folder, target))
    gguf_file = quantised_gguf(target, gguf_type) if gguf_type else target / llama_cpp_engine.GGUF_FILE
    # The process, not this one, runs llama.cpp: a crash there ends only it (engine_process).
    process = engine_process.process_for(engine_choice.LLAMA_CPP, gguf_file, _threads(), folder.name)
    model = llama_cpp_engine.LlamaCppModel(process, config, generation, gguf_file.stat().st_size)
    return model, tokenizer


def load(task: str, engine: str, folder: Path, int8: bool = False, gguf_type: str = "") -> tuple[Any, Any]:
    """The model in ``folder`` for ``task`` on ``engine`` (ONNX Runtime: its int8 copy with
    ``int8``; llama.cpp: its ``gguf_type`` copy, by default the 8-bit one), and its tokenizer."""
    if engine == engine_choice.ONNX and task == catalogue.SENTIMENT:
        return onnx_classifier(folder, int8)
    if engine == engine_choice.CTRANSLATE2 and task == catalogue.TRANSLATION:
        return ctranslate2_translator(folder)
    if engine == engine_choice.LLAMA_CPP and task == catalogue.TEXT_GENERATION:
        return llama_cpp_chat(folder, gguf_type)
    raise ValueError(f"{engine} does not serve {task}")
