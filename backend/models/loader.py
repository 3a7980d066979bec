"""Loading a model from a hub id or a local folder onto the chosen device.

Model references come from users (pickers, text boxes, fine-tuned runs), so they are hostile until
resolved: a hub id must look like ``org/name``; a folder must lie inside the models folder or the
fine-tuning runs folder; local and user-named weights must be safetensors; ``trust_remote_code`` is
never set.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
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
    UnsafeModelError,
)
from backend.models import catalog, hub, quantize
from backend.models.device import DeviceInfo, choose_device, torch_dtype, wants_cpu_bfloat16
from backend.models.embedding_head import EMBEDDING_HEAD_FILE, load_embedding_head

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_MAX_REF_LENGTH = 400
_IN_APP_HINT = "Pick a model marked as downloaded on the Models page, or type the name of a local model folder."


def _operator_detail(settings: Settings) -> str:
    """Commands and settings for whoever runs the server; never asks to set what is already set."""
    text = (
        f"To run without the Hugging Face Hub, run `python -m backend.models download` on a connected "
        f"machine and copy the models folder into {settings.models_dir}."
    )
    return text if settings.offline else f"{text} Then set LSM_OFFLINE=1."


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
    # Generation mutates per-call state inside some models; callers that need it take this lock.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def summary(self) -> dict[str, object]:
        """JSON-able description for the sidebar and result footers."""
        return {
            "task": self.task,
            "model": self.model_ref,
            "device": self.device.name,
            "dtype": self.dtype,
            "memory_mb": round(self.memory_bytes / 2**20, 1),
            "load_seconds": round(self.load_seconds, 2),
        }


def mirror_folder(hub_id: str, settings: Settings) -> Path:
    """Where the offline copy of ``hub_id`` lives inside the models folder."""
    return settings.models_dir / hub_id.replace("/", "--")


def _allowed_roots(settings: Settings) -> list[Path]:
    return [settings.models_dir.resolve(), settings.runs_dir.resolve()]


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def resolve_source(model_ref: str, settings: Settings | None = None) -> tuple[str, bool]:
    """Turn a model reference into ``(source, is_local_folder)``.

    A hub id is served from its mirror folder when one exists. Anything else must be a folder
    inside the models folder or the runs folder (relative names are taken inside the models
    folder); symlinks are resolved first so they cannot point out of it.

    Raises:
        UnsafeModelError: the reference is malformed or leaves the allowed folders.
        ModelUnavailableError: a folder reference names no model folder.
    """
    settings = settings or get_settings()
    ref = (model_ref or "").strip()
    if not ref or len(ref) > _MAX_REF_LENGTH or "\x00" in ref:
        raise UnsafeModelError("The model reference is empty or malformed.")
    if _HUB_ID.match(ref) and ".." not in ref:
        mirror = mirror_folder(ref, settings)
        if (mirror / "config.json").is_file() or (mirror / "modules.json").is_file():
            return str(mirror), True
        nested = (settings.models_dir / ref).resolve()
        if _inside(nested, settings.models_dir.resolve()) and (nested / "config.json").is_file():
            return str(nested), True
        return ref, False
    candidate = Path(ref).expanduser()
    if not candidate.is_absolute():
        candidate = settings.models_dir / candidate
    resolved = candidate.resolve()
    if not any(_inside(resolved, root) for root in _allowed_roots(settings)):
        raise UnsafeModelError(
            f"Model folder {ref!r} is outside the models folder.",
            f"Put local models inside {settings.models_dir} (setting LSM_MODELS_DIR).",
        )
    if not (resolved / "config.json").is_file():
        raise ModelUnavailableError(
            f"No model folder at {ref!r} (it has no config.json).", _IN_APP_HINT, _operator_detail(settings)
        )
    return str(resolved), True


def _require_safetensors(folder: Path) -> None:
    if any(folder.rglob("*.safetensors")):
        return
    if any(folder.rglob("*.bin")) or any(folder.rglob("*.pt")) or any(folder.rglob("*.pkl")):
        raise UnsafeModelError(
            f"{folder.name} holds only pickle weights, which can run code when loaded.",
            "Convert it to safetensors (model.save_pretrained(..., safe_serialization=True)).",
        )
    raise ModelLoadError(f"{folder.name} has no weights file.", "The folder is incomplete.")


# The demos. Sentence embeddings stay float32: the fine-tuning features and the use-case search
# index are computed once and compared with later embeddings, so they must not change precision.
CPU_BFLOAT16_TASKS = (catalog.SENTIMENT, catalog.TRANSLATION, catalog.IMAGE_CLASSIFICATION, catalog.TEXT_GENERATION)


def choose_dtype(task: str, model_ref: str, device: DeviceInfo, settings: Settings | None = None) -> str:
    """Half precision on GPU. On CPU, bfloat16 for the demos where the CPU computes it natively
    (setting ``cpu_bfloat16``), else the catalogue's CPU dtype (float32 unless it says so)."""
    if device.half_dtype:
        return device.half_dtype
    settings = settings or get_settings()
    if device.kind == "cpu" and task in CPU_BFLOAT16_TASKS and wants_cpu_bfloat16(settings.cpu_bfloat16):
        return "bfloat16"
    spec = catalog.find_spec(model_ref, task)
    return spec.cpu_dtype if spec else "float32"


def _memory_bytes(model: Any) -> int:
    module = getattr(model, "model", model) if not isinstance(model, torch.nn.Module) else model
    if not isinstance(module, torch.nn.Module):
        return 0
    tensors = list(module.parameters()) + list(module.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def _translate_error(error: Exception, model_ref: str, is_local: bool, settings: Settings) -> ShowcaseError:
    text = f"{type(error).__name__}: {error}"
    lowered = text.lower()
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)) or "out of memory" in lowered:
        return InsufficientMemoryError(
            f"Not enough memory to load {model_ref}.",
            "Pick a smaller model, close other models, or raise LSM_MODEL_MEMORY_MB on a bigger machine.",
        )
    if is_local:
        return ModelLoadError(
            f"The model folder for {model_ref} could not be read ({type(error).__name__}).",
            "It may be corrupt or incomplete: download or export it again.",
        )
    if "repositorynotfound" in lowered.replace(" ", "") or "is not a valid model identifier" in lowered:
        return ModelUnavailableError(
            f"{model_ref} was not found on the Hugging Face Hub.", "Check the name, or pick a model from the list."
        )
    if not settings.offline and any(word in lowered for word in ("connect", "timed out", "timeout")):
        hub.mark_unreachable(text, settings)
    return ModelUnavailableError(
        f"{model_ref} could not be fetched from the Hugging Face Hub.",
        _IN_APP_HINT,
        f"{text}. {_operator_detail(settings)}",
    )


def _load_components(
    task: str, source: str, device: DeviceInfo, dtype: str, local_only: bool, safetensors: bool | None
) -> tuple[Any, Any]:
    common: dict[str, Any] = {"local_files_only": local_only, "trust_remote_code": False}
    if task == catalog.EMBEDDINGS:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(
            source,
            device=device.torch_device,
            local_files_only=local_only,
            trust_remote_code=False,
            model_kwargs={"dtype": torch_dtype(dtype)},
        )
        return model, None
    if task in (catalog.SENTIMENT, catalog.TEXT_CLASSIFIER_BASE) and (Path(source) / EMBEDDING_HEAD_FILE).is_file():
        # Fast-mode fine-tunes: a sentence encoder plus a linear head, not a transformers class.
        return load_embedding_head(Path(source), device.torch_device, torch_dtype(dtype))
    import transformers

    auto_model = {
        catalog.SENTIMENT: transformers.AutoModelForSequenceClassification,
        catalog.TEXT_CLASSIFIER_BASE: transformers.AutoModelForSequenceClassification,
        catalog.TRANSLATION: transformers.AutoModelForSeq2SeqLM,
        catalog.IMAGE_CLASSIFICATION: transformers.AutoModelForImageClassification,
        catalog.IMAGE_CLASSIFIER_BASE: transformers.AutoModelForImageClassification,
        catalog.TEXT_GENERATION: transformers.AutoModelForCausalLM,
    }[task]
    if task in (catalog.IMAGE_CLASSIFICATION, catalog.IMAGE_CLASSIFIER_BASE):
        preprocessor = transformers.AutoImageProcessor.from_pretrained(source, **common)
    else:
        preprocessor = transformers.AutoTokenizer.from_pretrained(source, **common)
    model = auto_model.from_pretrained(source, dtype=torch_dtype(dtype), use_safetensors=safetensors, **common)
    model.to(device.torch_device)
    model.eval()
    return model, preprocessor


def load_model(
    task: str, model_ref: str, settings: Settings | None = None, device: DeviceInfo | None = None
) -> LoadedModel:
    """Load ``model_ref`` for ``task`` on the configured device.

    Args:
        task: a task name from ``backend.models.catalog.TASKS``.
        model_ref: a hub id (``org/name``) or a model folder inside the models or runs folder.
        settings: settings to use (default: the process settings).
        device: device to load onto (default: chosen from the settings).

    Returns:
        The loaded model with its tokenizer or image processor and what it costs.

    Raises:
        ShowcaseError: a subclass saying why, with a hint (offline, unsafe, corrupt, memory).
    """
    settings = settings or get_settings()
    if task not in catalog.TASKS:
        raise ModelLoadError(f"Unknown task {task!r}.")
    source, is_local = resolve_source(model_ref, settings)
    failure_key = f"{task}:{model_ref}"
    if not is_local and (failed := hub.recent_failure(failure_key)) is not None:
        raise failed  # the same answer at once: ten clicks do not cost ten waits
    local_only = settings.offline
    if is_local:
        _require_safetensors(Path(source))
    else:
        local_only = hub.local_files_only(model_ref, settings)  # fails at once while the hub is unreachable
    device = device or choose_device(settings.device)
    dtype = choose_dtype(task, model_ref, device, settings)
    int8 = quantize.wants_int8(task, device, settings)
    if int8:
        dtype = "float32"  # dynamic quantisation starts from float32 weights
    # Catalogue hub ids are vetted; a few only publish .bin weights, which transformers then
    # loads with torch's weights_only unpickler. Every other reference must be safetensors.
    safetensors = None if (catalog.find_spec(model_ref) and not is_local) else True
    started = time.perf_counter()
    try:
        model, preprocessor = _load_components(task, source, device, dtype, local_only, safetensors)
        if int8:
            model = quantize.quantize_int8(model)
    except ShowcaseError:
        raise
    except Exception as error:  # noqa: BLE001 - every loader failure becomes a message
        translated = _translate_error(error, model_ref, is_local, settings)
        raise (translated if is_local else hub.remember_failure(failure_key, translated)) from error
    return LoadedModel(
        task=task,
        model_ref=model_ref,
        source=source,
        model=model,
        preprocessor=preprocessor,
        device=device,
        dtype=dtype,
        memory_bytes=_memory_bytes(model) + (quantize.packed_weight_bytes(model) if int8 else 0),
        load_seconds=time.perf_counter() - started,
    )


def estimate_memory_bytes(task: str, model_ref: str, settings: Settings | None = None) -> int:
    """Expected weight memory before loading: the catalogue's figure, else the folder's
    safetensors counted at the dtype they will load in."""
    settings = settings or get_settings()
    dtype = choose_dtype(task, model_ref, choose_device(settings.device), settings)
    spec = catalog.find_spec(model_ref, task)
    if spec:
        return spec.memory_mb(dtype) * 2**20
    try:
        source, is_local = resolve_source(model_ref, settings)
    except ShowcaseError:
        return 0
    if not is_local:
        return 0
    return sum(_loaded_size(file, dtype) for file in Path(source).rglob("*.safetensors"))


_HEADER_LIMIT = 100 * 2**20  # the safetensors format's own cap on the JSON header
_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}


def _loaded_size(file: Path, dtype: str) -> int:
    """Bytes the tensors in ``file`` take once loaded in ``dtype``: floating-point tensors are
    converted (a float32 file loads at half the size in bfloat16), the others keep their size.
    The file's size when its header cannot be read."""
    try:
        with file.open("rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            if not 0 < length <= _HEADER_LIMIT:
                return file.stat().st_size
            header = json.loads(handle.read(length))
        target = torch_dtype(dtype).itemsize
        total = 0
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            begin, end = entry["data_offsets"]
            count = math.prod(entry["shape"])
            total += count * target if entry["dtype"] in _FLOAT_DTYPES else end - begin
        return total
    except (OSError, ValueError, KeyError, TypeError):
        return file.stat().st_size
