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
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from backend.errors import UntrainedWeightsError
from backend.i18n import _
from backend.models import memory
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


def cached_copy(folder: Path, engine: str, build: Callable[[Path], None]) -> Path:
    """The folder holding ``engine``'s copy of the model in ``folder``, built by ``build(target)``
    the first time (or when the model changed), atomically: a load never sees half a copy, and
    two processes building at once both end with one complete copy."""
    stamp = _stamp(folder, engine)
    root = folder / CACHE_FOLDER
    target = root / f"{engine}-{stamp['version']}"
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


def onnx_session(model_file: Path) -> Any:
    """An ONNX Runtime CPU session using torch's thread count (all graph optimisations on). Given
    the path, ONNX Runtime finds the weights file beside the graph."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = _threads()
    options.inter_op_num_threads = 1
    # No spinning after a run: the app's other models (torch) share these cores, and an idle pool
    # spinning took about 23 ms of CPU from each 10 ms torch request after it (benchmarks/RESULTS.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


class OnnxModel:
    """An exported model as the inference modules call a transformers one: ``model(**batch)``
    returns an object with the output as a torch tensor; ``config`` is the transformers config."""

    def __init__(self, folder: Path, config: Any, output: str) -> None:
        self.session = onnx_session(folder / "model.onnx")
        self.config = config
        self.output = output
        self.input_names = [item.name for item in self.session.get_inputs()]
        self.memory_bytes = cached_bytes(folder)
        self.training = False

    def __call__(self, **batch: torch.Tensor) -> SimpleNamespace:
        feeds = {name: batch[name].cpu().numpy().astype("int64") for name in self.input_names}
        (value,) = self.session.run([self.output], feeds)
        return SimpleNamespace(**{self.output: torch.from_numpy(value)})


def onnx_classifier(folder: Path) -> tuple[OnnxModel, Any]:
    """The sequence classifier in ``folder`` on ONNX Runtime, and its tokenizer."""
    return _onnx_model(folder, "AutoModelForSequenceClassification", "logits")


def onnx_encoder(folder: Path) -> tuple[OnnxModel, Any]:
    """The bare encoder in ``folder`` (``last_hidden_state``) on ONNX Runtime, and its tokenizer:
    the sentence embedder's transformer (the real-weight check of the export, and the benchmark)."""
    return _onnx_model(folder, "AutoModel", "last_hidden_state")


def _onnx_model(folder: Path, auto_class: str, output: str) -> tuple[OnnxModel, Any]:
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)

    def build(target: Path) -> None:
        export_onnx(_load_float32(auto_class, folder), tokenizer, output, target)

    target = cached_copy(folder, engine_choice.ONNX, build)
    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    return OnnxModel(target, config, output), tokenizer


# --- CTranslate2: MarianMT translation ---------------------------------------------------------


def _convert_ctranslate2(folder: Path, target: Path) -> None:
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

    _SafeConverter(str(folder), low_cpu_mem_usage=True).convert(str(target), quantization="float32")


@dataclass
class _Special:
    start: int
    eos: int | None
    pad: int


class CTranslate2Seq2Seq:
    """A converted MarianMT model as ``translation`` calls a transformers one:
    ``generate(input_ids=..., attention_mask=..., generation_config=...)`` returns the token ids
    (decoder start first, end token last, padded), as ``generate`` does."""

    def __init__(self, folder: Path, tokenizer: Any, config: Any, generation_config: Any) -> None:
        import ctranslate2

        self.translator = ctranslate2.Translator(
            str(folder), device="cpu", compute_type="float32", inter_threads=1, intra_threads=_threads()
        )
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
        results = self.translator.translate_batch(
            sources,
            beam_size=max(1, int(config.num_beams or 1)),
            max_decoding_length=steps,
            length_penalty=float(getattr(config, "length_penalty", 1.0) or 1.0),
            repetition_penalty=float(getattr(config, "repetition_penalty", 1.0) or 1.0),
            no_repeat_ngram_size=int(getattr(config, "no_repeat_ngram_size", 0) or 0),
            return_end_token=True,
            target_prefix=language and language * len(sources),
        )
        special = self._special
        rows = []
        for result in results:
            ids = self.tokenizer.convert_tokens_to_ids(result.hypotheses[0])
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
    target = cached_copy(folder, engine_choice.CTRANSLATE2, lambda target: _convert_ctranslate2(folder, target))
    return CTranslate2Seq2Seq(target, tokenizer, config, generation), tokenizer


# --- llama.cpp: chat models -------------------------------------------------------------------------


def llama_cpp_chat(folder: Path) -> tuple[Any, Any]:
    """The chat model in ``folder`` on llama.cpp (its 8-bit GGUF copy made once), and its tokenizer.

    Raises:
        UnsupportedModel: a model llama.cpp does not compute as transformers does.
        EngineFailure: the engine is off for this model (its reason on the Models page) or its
            process did not start.
    """
    from backend.models.engines import llama_cpp_engine, llama_cpp_process

    tokenizer, config, generation = _transformers_parts(folder)
    target = cached_copy(folder, engine_choice.LLAMA_CPP, lambda target: llama_cpp_engine.export_gguf(folder, target))
    gguf_file = target / llama_cpp_engine.GGUF_FILE
    # The process, not this one, runs llama.cpp: a crash there ends only it (llama_cpp_process).
    process = llama_cpp_process.process_for(gguf_file, max(1, torch.get_num_threads()), folder.name)
    model = llama_cpp_engine.LlamaCppModel(process, config, generation, gguf_file.stat().st_size)
    return model, tokenizer


def load(task: str, engine: str, folder: Path) -> tuple[Any, Any]:
    """The model in ``folder`` for ``task`` on ``engine``, and its tokenizer."""
    if engine == engine_choice.ONNX and task == catalogue.SENTIMENT:
        return onnx_classifier(folder)
    if engine == engine_choice.CTRANSLATE2 and task == catalogue.TRANSLATION:
        return ctranslate2_translator(folder)
    if engine == engine_choice.LLAMA_CPP and task == catalogue.TEXT_GENERATION:
        return llama_cpp_chat(folder)
    raise ValueError(f"{engine} does not serve {task}")
