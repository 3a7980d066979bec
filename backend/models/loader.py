"""Loading a model from a ``LoadPlan`` (see ``backend.models.resolve.plan``) onto its device, for
inference (``load_model``, ``load_from_plan``) or as a fine-tuning base (``load_for_training``).

Both paths share the plan's checks (hub id or a folder inside the allowed folders, safetensors
only) and turn every loader failure into the same typed errors; ``trust_remote_code`` is never set.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from backend.config import Settings, get_settings
from backend.errors import (
    InsufficientMemoryError,
    ModelLoadError,
    ModelUnavailableError,
    ShowcaseError,
    UntrainedWeightsError,
)
from backend.i18n import _
from backend.models import memory
from backend.models.engines import runtimes, support
from backend.models.engines.compact_decoder import CompactDecoder, DecodeLoop
from backend.models.engines.engine_process import FallsBackToTorch
from backend.models.engines.llama_cpp_engine import LlamaCppModel
from backend.models.fetch import hub
from backend.models.load import dtype_convert, int8_stream, quantize, stored_keys
from backend.models.load.embedding_head import load_embedding_head
from backend.models.memory import is_out_of_memory
from backend.models.resolve import architecture, catalogue, endpoints, engine_choice, engine_record
from backend.models.resolve.device import DeviceInfo, torch_dtype
from backend.models.resolve.engine_choice import EMBEDDING_HEAD_FILE
from backend.models.resolve.plan import IN_APP_HINT, LoadPlan, operator_detail, plan_load
from backend.server_paths import shown_path

_LOG = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A model ready for inference, with what the UI reports about it."""

    task: str
    model_ref: str
    source: str
    model: Any
    preprocessor: Any
    device: DeviceInfo
    dtype: str
    memory_bytes: int
    load_seconds: float
    # "torch", or the engine the setting chose (backend.models.engines.runtimes).
    engine: str = engine_choice.TORCH
    # A chat model's decode loop on the CPU, when one can run the model (else None): the compact
    # loop over a torch model, or the llama.cpp engine's model itself.
    decoder: DecodeLoop | None = None
    # How the ``auto`` setting's check chose its path ("ONNX Runtime, checked today: 5.8x faster, …"),
    # or "" for a model loaded as set.
    path_note: str = ""
    checked: str = ""  # the checked path it loaded on (the plan's), "" when loaded as set
    # How footers name the model (``footer.make_footer`` fills it in once: naming it resolves paths
    # and may read a fine-tune's job record, too slow to repeat for every request).
    shown_name: str = ""
    # Generation mutates per-call state inside some models; callers that need it take this lock.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def _memory_bytes(model: Any) -> int:
    if isinstance(getattr(model, "memory_bytes", None), int):  # another engine's model files
        return model.memory_bytes
    module = getattr(model, "model", model) if not isinstance(model, torch.nn.Module) else model
    if not isinstance(module, torch.nn.Module):
        return 0
    tensors = list(module.parameters()) + list(module.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def _translate_error(error: Exception, plan: LoadPlan, settings: Settings) -> ShowcaseError:
    # A folder is named by its place in the models or runs folder, never by its server path.
    ref = shown_path(plan.ref, settings) if plan.is_local else plan.ref
    if is_out_of_memory(error):
        return InsufficientMemoryError(
            _("Not enough memory to load {ref}.").format(ref=ref),
            _("Pick a smaller model, close other models, or raise LSM_MODEL_MEMORY_MB on a bigger machine."),
        )
    if plan.is_local:
        return ModelLoadError(
            _("The model folder for {ref} could not be read ({error}).").format(ref=ref, error=type(error).__name__),
            _("It may be corrupt or incomplete: download or export it again."),
        )
    lowered = f"{type(error).__name__}: {error}".lower()
    if "repositorynotfound" in lowered.replace(" ", "") or "is not a valid model identifier" in lowered:
        return ModelUnavailableError(
            _("{ref} was not found on the Hugging Face Hub.").format(ref=ref),
            _("Check the name, or pick a model from the list."),
        )
    text = f"{type(error).__name__}: {error}"
    if not settings.offline and any(word in lowered for word in ("connect", "timed out", "timeout")):
        hub.mark_unreachable(text, settings)
    return ModelUnavailableError(
        _("{ref} could not be fetched from the Hugging Face Hub.").format(ref=ref),
        IN_APP_HINT,
        f"{text}. {operator_detail(settings)}",
    )


@contextmanager
def _load_errors(plan: LoadPlan, settings: Settings) -> Iterator[None]:
    """Every loader failure inside becomes a typed error with a hint; a hub model's failure is
    remembered briefly, so ten clicks get the same answer at once instead of ten waits."""
    failure_key = f"{plan.task}:{plan.ref}"
    if not plan.is_local and (failed := hub.recent_failure(failure_key)) is not None:
        raise failed
    try:
        yield
    except ShowcaseError:
        raise
    except Exception as error:  # noqa: BLE001 - every loader failure becomes a message
        translated = _translate_error(error, plan, settings)
        raise (translated if plan.is_local else hub.remember_failure(failure_key, translated)) from error


def _local_files_only(plan: LoadPlan, settings: Settings) -> bool:
    """Folders never touch the hub; a hub id fails at once while the hub is unreachable, unless
    huggingface_hub's own cache holds it."""
    return True if plan.is_local else hub.local_files_only(plan.ref, settings)


_AUTO_CLASSES = architecture.AUTO_CLASSES
_TRAINING_TASKS = (catalogue.TEXT_CLASSIFIER_BASE, catalogue.IMAGE_CLASSIFIER_BASE)
# Demos whose loads convert dtype tensor by tensor (the chat model's int8 load streams its own).
LEAN_LOAD_TASKS = (
    catalogue.SENTIMENT,
    catalogue.TRANSLATION,
    catalogue.IMAGE_CLASSIFICATION,
    catalogue.TEXT_GENERATION,
)


def _from_pretrained(
    plan: LoadPlan, local_only: bool, fresh_head: bool = False, **model_options: Any
) -> tuple[Any, Any]:
    preprocessor = _preprocessor(plan, local_only)
    folder = _weights_folder(plan, local_only)
    return _model(plan, folder, local_only, fresh_head, **model_options), preprocessor


def _preprocessor(plan: LoadPlan, local_only: bool) -> Any:
    """The task's tokenizer or image processor, its load's garbage trimmed before any weight is
    read (see ``memory.without_parse_garbage``)."""
    import transformers

    preprocessor_class = getattr(transformers, _AUTO_CLASSES[plan.task][1])
    options = {"local_files_only": local_only, "trust_remote_code": False}
    return memory.without_parse_garbage(preprocessor_class.from_pretrained(plan.source, **options))


def _model(
    plan: LoadPlan, folder: Path | None, local_only: bool, fresh_head: bool = False, **model_options: Any
) -> Any:
    """The task's model, read from ``folder`` (see ``_weights_folder``) in the dtype it needs,
    or by ``from_pretrained`` where the lean read does not apply; refused by
    ``require_trained_weights`` when the checkpoint lacks weights the task relies on."""
    import transformers

    model_class = getattr(transformers, _AUTO_CLASSES[plan.task][0])
    dtype = _read_dtype(plan, folder)
    loaded = _converted(plan.task, folder, model_class, dtype) if not model_options else None
    if loaded is None:
        loaded = model_class.from_pretrained(
            plan.source,
            dtype=dtype,
            use_safetensors=plan.use_safetensors,
            local_files_only=local_only,
            trust_remote_code=False,
            output_loading_info=True,
            **model_options,
        )
    model, loading_info = loaded
    require_trained_weights(plan, model, loading_info["missing_keys"], fresh_head=fresh_head)
    return model


# Layers a classifier base may lack and still be tuned: they start fresh and train with the head.
_TRAINED_WITH_HEAD = ("pooler",)


def require_trained_weights(
    plan: LoadPlan, model: Any, missing_keys: Iterable[str], fresh_head: bool = False, settings: Settings | None = None
) -> None:
    """Refuse a model whose checkpoint lacks weights the task relies on: ``from_pretrained`` would
    initialise them at random (an embedding model read as a classifier gets a random head and
    answers "LABEL_1 · 50.6%"). The one check of every torch load path; the int8 streamed load
    needs none, it takes only checkpoints that fill every tensor.

    Args:
        plan: the load's plan (task and reference, for the message).
        model: the loaded model (its ``base_model_prefix`` tells the body from the head).
        missing_keys: the model's tensors the checkpoint did not hold, as transformers reports them.
        fresh_head: a fine-tuning base, whose new head is expected: only missing body weights count.
        settings: for naming a folder by its place, not its server path.

    Raises:
        UntrainedWeightsError: naming how many weights would start random and what to pick instead.
    """
    missing = sorted(missing_keys)
    if fresh_head:
        prefix = getattr(model, "base_model_prefix", "")
        missing = [
            key
            for key in missing
            if prefix and key.startswith(f"{prefix}.") and not set(key.split(".")) & set(_TRAINED_WITH_HEAD)
        ]
    if not missing:
        return
    settings = settings or get_settings()
    ref = shown_path(plan.ref, settings) if plan.is_local else plan.ref
    examples = ", ".join(missing[:3]) + (", …" if len(missing) > 3 else "")
    if fresh_head:
        raise UntrainedWeightsError(
            _(
                "{ref} cannot be a fine-tuning base: its checkpoint lacks {missing} weights of the model "
                "body, which would start random."
            ).format(ref=ref, missing=len(missing)),
            _("Pick a base model marked as downloaded, or download this one again."),
            f"Missing: {examples}",
        )
    raise UntrainedWeightsError(
        _(
            "{ref} has no trained weights for {TASK_PURPOSE}: {missing} of its weights would start "
            "random, so its answers would be made up."
        ).format(ref=ref, TASK_PURPOSE=architecture.TASK_PURPOSE.get(plan.task, plan.task), missing=len(missing)),
        _("Pick a model made for this demo from the list, or fine-tune this one on the Fine-tune page first."),
        f"Missing: {examples}",
    )


def check_stored_weights(plan: LoadPlan, settings: Settings | None = None) -> None:
    """Refuse, from the checkpoint's headers alone (``load.stored_keys``), a model that
    ``require_trained_weights`` would refuse once loaded: the gate's question before a job is
    queued, answered without reading a weight. A model with no copy here yet (a hub id not
    downloaded), a fast-mode folder, a sentence encoder, or a checkpoint its headers cannot
    match is left to the load's own check.

    Raises:
        UntrainedWeightsError: as ``require_trained_weights`` (a classifier base keeps its fresh head).
    """
    if plan.task not in _AUTO_CLASSES:
        return
    folder = plan.folder
    if folder is None and not plan.is_local and not endpoints.is_endpoint_ref(plan.ref):
        folder = hub.cached_snapshot(plan.source)
    if folder is None or (folder / EMBEDDING_HEAD_FILE).is_file():
        return
    try:
        model, missing = stored_keys.missing_keys(folder, _AUTO_CLASSES[plan.task][0])
    except stored_keys.KeysUnknown as error:
        _LOG.info("%s: stored weights not checked before loading (%s)", plan.ref, error)
        return
    require_trained_weights(plan, model, missing, fresh_head=plan.task in _TRAINING_TASKS, settings=settings)


def _weights_folder(plan: LoadPlan, local_only: bool) -> Path | None:
    """Where the weights lie as files: the plan's folder, or for a hub id the snapshot in
    huggingface_hub's cache, fetched there first while the hub is reachable (``from_pretrained``
    would fetch the same files). Asked after the preprocessor's load, which has brought the
    cache's ``main`` up to date, so weights and preprocessor are one revision."""
    if plan.folder is not None or plan.is_local:
        return plan.folder
    cached = hub.cached_snapshot(plan.source)
    if cached is None and not local_only:
        cached = hub.fetch_weights(plan.source)
    return cached


def _read_dtype(plan: LoadPlan, folder: Path | None) -> torch.dtype:
    """The dtype the weights are read in: the plan's, except for a dynamic int8 load of a
    checkpoint on disk stored in one half-precision dtype. That one is read as stored (views of
    the file) and ``quantize_int8`` converts a block of rows at a time: read in float32, the whole
    model would exist in float32 before a single layer was quantised (twice the stored bytes)."""
    dtype = torch_dtype(plan.dtype)
    if not plan.int8 or plan.task in engine_choice.WEIGHT_ONLY_TASKS or folder is None:
        return dtype
    try:
        stored = dtype_convert.stored_float_dtypes(sorted(folder.glob("*.safetensors")))
    except (OSError, ValueError, dtype_convert.LeanLoadUnsupported):
        return dtype
    return stored.pop() if stored in ({torch.float16}, {torch.bfloat16}) else dtype


def _converted(task: str, folder: Path | None, model_class: Any, dtype: torch.dtype) -> tuple[Any, dict] | None:
    """A model on disk whose stored float dtype is not ``dtype``, read straight into it
    (``lean_load``: an mmap'd conversion would hold the stored copy too), with transformers'
    loading info; None otherwise."""
    if folder is None or task not in LEAN_LOAD_TASKS:
        return None
    files = sorted(folder.glob("*.safetensors"))
    if not files or not dtype_convert.needs_conversion(files, dtype):
        return None
    try:
        return dtype_convert.load_converted(model_class, folder, files, dtype)
    except dtype_convert.LeanLoadUnsupported:
        return None


def _load_weight_only_int8(plan: LoadPlan, local_only: bool) -> tuple[Any, Any]:
    """A chat model with int8 weights, never whole at a float dtype: tensor by tensor from the
    files on disk; else loaded at the plan's dtype and quantised one layer at a time."""
    dtype = torch_dtype(plan.dtype)
    tokenizer = _preprocessor(plan, local_only)
    folder = _weights_folder(plan, local_only)
    if folder is not None:
        try:
            return int8_stream.load_causal_lm_int8(folder, dtype), tokenizer
        except int8_stream.StreamedLoadUnsupported:
            pass
    return quantize.quantize_weight_only_int8(_model(plan, folder, local_only), dtype), tokenizer


def _load_components(plan: LoadPlan, local_only: bool) -> tuple[Any, Any]:
    dtype = torch_dtype(plan.dtype)
    if plan.task == catalogue.EMBEDDINGS:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(
            plan.source,
            device=plan.device.torch_device,
            local_files_only=local_only,
            trust_remote_code=False,
            model_kwargs={"dtype": dtype},
        )
        return model, None
    if plan.engine != engine_choice.TORCH and plan.folder is not None:
        return runtimes.load(plan.task, plan.engine, plan.folder, plan.int8, _gguf_type(plan))
    head_task = plan.task in (catalogue.SENTIMENT, catalogue.TEXT_CLASSIFIER_BASE)
    if head_task and plan.folder and (plan.folder / EMBEDDING_HEAD_FILE).is_file():
        # Fast-mode fine-tunes: a sentence encoder plus a linear head, not a transformers class.
        return load_embedding_head(plan.folder, plan.device.torch_device, dtype)
    if plan.int8 and plan.task in engine_choice.WEIGHT_ONLY_TASKS:
        return _load_weight_only_int8(plan, local_only)
    model, preprocessor = _from_pretrained(plan, local_only)
    model.to(plan.device.torch_device)
    model.eval()
    return model, preprocessor


def _gguf_type(plan: LoadPlan) -> str:
    """The GGUF quantisation a variant reference names ("" for llama.cpp's own 8-bit copy)."""
    path = engine_record.PATHS.get(plan.variant) if plan.variant else None
    return path.gguf_type if path else ""


def load_from_plan(
    plan: LoadPlan, settings: Settings | None = None, *, fall_back: bool = True
) -> LoadedModel | endpoints.RemoteModel:
    """Load the model ``plan`` describes, for inference (an endpoint's model: its ``RemoteModel``).
    An engine that cannot take the model loads it in torch instead, unless ``fall_back`` is False
    (the path check, which records why the engine failed).

    Raises:
        ShowcaseError: a subclass saying why, with a hint (offline, corrupt, memory).
    """
    settings = settings or get_settings()
    if plan.device.kind == endpoints.REMOTE:
        return endpoints.connect(plan.task, plan.ref, settings)
    started = time.perf_counter()
    if plan.engine != engine_choice.TORCH:
        refused = support.refusal(plan.engine, plan.folder) if plan.folder is not None else ""
        if refused:
            if not fall_back:
                raise ModelLoadError(
                    _("{engine} cannot run {ref}: {reason}.").format(
                        engine=plan.engine, ref=shown_path(plan.ref, settings), reason=refused
                    )
                )
            # Said from the config, before any conversion: the model runs in torch, as without the setting.
            _LOG.info("%s does not go to %s (%s); loading it in torch", plan.ref, plan.engine, refused)
            return _load_in_torch(plan, settings)
        try:
            with _load_errors(plan, settings):
                model, preprocessor = _load_components(plan, _local_files_only(plan, settings))
        except InsufficientMemoryError:
            raise
        except ShowcaseError as error:
            # A variant was asked for by name (a Compare column): torch in its place would answer as another model.
            if not fall_back or plan.variant:
                raise
            # A model the engine cannot take (another vocabulary layout, an operator the exporter
            # lacks) still runs: in torch, as without the setting; the log says why.
            _LOG.warning("%s on %s failed (%s); loading it in torch", plan.ref, plan.engine, error.__cause__ or error)
            if plan.checked and plan.folder is not None:  # the next load takes the next passing path
                reason = f"failed to load in the app: {type(error.__cause__ or error).__name__}"
                engine_record.record_failure(plan.task, plan.folder, plan.checked, reason, settings)
            return _load_in_torch(plan, settings)
        # A variant (a Compare column) is the path it names: an engine failure ends its answer.
        if isinstance(model, LlamaCppModel) and not plan.variant:
            # Where the engine's process fails mid-reply, the reply goes on in this model's torch loop.
            model.torch_fallback = lambda: _engine_failed(plan, settings).decoder
        elif isinstance(model, FallsBackToTorch) and not plan.variant:
            # Where the engine's process fails, the request is answered by this model in torch.
            model.torch_fallback = lambda: _engine_failed(plan, settings).model
        return _loaded(plan, model, preprocessor, started, settings)
    with _load_errors(plan, settings):
        model, preprocessor = _load_components(plan, _local_files_only(plan, settings))
        if plan.int8 and not quantize.is_weight_only_int8(model):
            model = quantize.quantize_int8(model)
    return _loaded(plan, model, preprocessor, started, settings)


def _engine_failed(plan: LoadPlan, settings: Settings) -> LoadedModel:
    """The model in torch, after its engine crashed while answering; a checked path is marked failed."""
    if plan.checked and plan.folder is not None:
        engine_record.record_failure(plan.task, plan.folder, plan.checked, "crashed while answering", settings)
    return _load_in_torch(plan, settings)


def _load_in_torch(plan: LoadPlan, settings: Settings) -> LoadedModel:
    torch_settings = dataclasses.replace(settings, cpu_engine="")
    loaded = load_from_plan(plan_load(plan.task, plan.ref, torch_settings, plan.device), torch_settings)
    assert isinstance(loaded, LoadedModel)  # an endpoint's model never reaches an engine's load
    return loaded


def _loaded(plan: LoadPlan, model: Any, preprocessor: Any, started: float, settings: Settings) -> LoadedModel:
    decision = engine_record.read_decision(plan.task, plan.folder, settings) if plan.checked else None
    torch_int8 = plan.int8 and plan.engine == engine_choice.TORCH
    return LoadedModel(
        task=plan.task,
        model_ref=plan.ref,
        source=plan.source,
        model=model,
        preprocessor=preprocessor,
        device=plan.device,
        dtype=plan.dtype,
        # torch's int8 layers keep a packed copy beside their weights; an engine's file is all it holds.
        memory_bytes=_memory_bytes(model) + (quantize.packed_layout_bytes(model) if torch_int8 else 0),
        load_seconds=time.perf_counter() - started,
        engine=plan.engine,
        decoder=_decoder(plan, model),
        path_note=engine_record.decision_note(decision),
        checked=plan.checked,
    )


def _decoder(plan: LoadPlan, model: Any) -> DecodeLoop | None:
    if plan.task != catalogue.TEXT_GENERATION or plan.device.kind != "cpu":
        return None
    return model if isinstance(model, DecodeLoop) else CompactDecoder.build(model)


def load_model(
    task: str, model_ref: str, settings: Settings | None = None, device: DeviceInfo | None = None
) -> LoadedModel | endpoints.RemoteModel:
    """Load ``model_ref`` for ``task`` on the configured device (``plan_load`` + ``load_from_plan``).

    Args:
        task: a task name from ``backend.models.resolve.catalogue.TASKS``.
        model_ref: a hub id (``org/name``), a model folder inside the models or runs folder, or
            ``endpoint:<name>`` (a configured OpenAI-compatible server).
        settings: settings to use (default: the process settings).
        device: device to load onto (default: chosen from the settings).

    Returns:
        The loaded model with its tokenizer or image processor and what it costs.

    Raises:
        ShowcaseError: a subclass saying why, with a hint (offline, unsafe, corrupt, memory).
    """
    settings = settings or get_settings()
    return load_from_plan(plan_load(task, model_ref, settings, device), settings)


def load_for_training(plan: LoadPlan, classes: list[str], settings: Settings | None = None) -> tuple[Any, Any]:
    """Load a fine-tuning base with a freshly initialised head for ``classes``, plus its
    tokenizer or image processor. The model stays on the CPU (the trainer moves it).

    Args:
        plan: from ``plan_load(TEXT_CLASSIFIER_BASE or IMAGE_CLASSIFIER_BASE, ref, ..., training=True)``.
        classes: the label names, in label-id order.
        settings: settings to use (default: the process settings).

    Raises:
        ShowcaseError: a subclass saying why, with a hint, as ``load_from_plan`` raises them.
    """
    if plan.task not in _TRAINING_TASKS:
        raise ValueError(f"{plan.task!r} is not a fine-tuning base task; expected one of {_TRAINING_TASKS}")
    settings = settings or get_settings()
    with _load_errors(plan, settings):
        return _from_pretrained(
            plan,
            _local_files_only(plan, settings),
            fresh_head=True,
            num_labels=len(classes),
            id2label=dict(enumerate(classes)),
            label2id={label: i for i, label in enumerate(classes)},
            ignore_mismatched_sizes=True,
        )


def load_tokenizer(plan: LoadPlan, settings: Settings | None = None) -> Any:
    """Only the tokenizer of the model ``plan`` describes (no weights read): what checking data
    against a model's chat template and token limit needs before a job is queued.

    Raises:
        ShowcaseError: a subclass saying why, with a hint, as ``load_from_plan`` raises them.
    """
    import transformers

    settings = settings or get_settings()
    with _load_errors(plan, settings):
        return transformers.AutoTokenizer.from_pretrained(
            plan.source, local_files_only=_local_files_only(plan, settings), trust_remote_code=False
        )


def load_causal_lm_for_training(plan: LoadPlan, settings: Settings | None = None) -> tuple[Any, Any]:
    """A chat model to tune (``plan`` from ``plan_load(TEXT_GENERATION, ref, ..., training=True)``)
    and its tokenizer; the model stays on the CPU (the trainer moves it).

    Raises:
        ShowcaseError: a subclass saying why, with a hint, as ``load_from_plan`` raises them.
    """
    if plan.task != catalogue.TEXT_GENERATION:
        raise ValueError(f"{plan.task!r} is not a chat model task")
    settings = settings or get_settings()
    with _load_errors(plan, settings):
        return _from_pretrained(plan, _local_files_only(plan, settings))
