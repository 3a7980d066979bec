"""Resolving a model reference once, before loading: where it comes from, how it will load, what
it will cost.

Model references come from users (pickers, text boxes, fine-tuned runs, job parameters), so they
are hostile until resolved: a hub id must look like ``org/name``; a folder must lie inside the
models folder or the fine-tuning runs folder; local weights must be safetensors. ``plan_load``
does all of that without network access and without reading weights (only folder listings and
safetensors headers), so it is also the cheap check run before a fine-tuning job is queued.
The cache, the inference loader and the training loader all take its ``LoadPlan``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from backend.config import Settings, get_settings
from backend.errors import ModelLoadError, ModelUnavailableError, UnsafeModelError
from backend.i18n import _
from backend.models.resolve import architecture, catalogue, endpoints, engine_choice, engine_record
from backend.models.resolve.device import DeviceInfo, choose_device, wants_cpu_bfloat16
from backend.models.resolve.weight_files import loaded_bytes, require_safetensors
from backend.server_paths import shown_path

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
# More entries than any model folder holds (weights, shards, tokenizer, engine copies): a
# folder beyond it is refused rather than walked on every request.
_MAX_FOLDER_ENTRIES = 5000
_MAX_REF_LENGTH = 400
IN_APP_HINT = "Pick a model marked as downloaded on the Models page, or type the name of a local model folder."


def operator_detail(settings: Settings) -> str:
    """Commands and settings for whoever runs the server; never asks to set what is already set."""
    text = (
        "To run without the Hugging Face Hub, run `python -m backend.models download` on a connected "
        "machine and copy the models folder to this server's models folder (LSM_MODELS_DIR)."
    )
    return text if settings.offline else f"{text} Then set LSM_OFFLINE=1."


# The demos. Sentence embeddings stay float32: the fine-tuning features and the use-case search
# index are computed once and compared with later embeddings, so they must not change precision.
CPU_BFLOAT16_TASKS = (
    catalogue.SENTIMENT,
    catalogue.TRANSLATION,
    catalogue.IMAGE_CLASSIFICATION,
    catalogue.TEXT_GENERATION,
)
# Chat replies come a token at a time, and each token reads every weight once: the work waits on
# memory, so half the bytes win even where bfloat16 arithmetic is emulated (benchmarks/RESULTS.md:
# a bfloat16 pipeline x1.56 a float32 one on a CPU without bfloat16 units). "auto" loads them in
# bfloat16 on every CPU; the other demos only where the CPU computes bfloat16 natively.
MEMORY_BOUND_TASKS = (catalogue.TEXT_GENERATION,)


@dataclass(frozen=True)
class LoadPlan:
    """A model reference resolved for one task on one device.

    Attributes:
        task: a task name from ``backend.models.resolve.catalogue.TASKS``.
        ref: the reference as the user gave it (the cache key and the name shown).
        source: what ``from_pretrained`` gets: a local folder, or the hub id itself.
        is_local: whether ``source`` is a folder on this machine.
        folder: that folder, or None for a hub id with no local copy.
        device: where the model will run.
        dtype: the dtype its weights load in ("float32", "bfloat16" or "float16").
        int8: whether its Linear layers are quantised to int8 after loading (CPU demos, by setting).
        use_safetensors: True to refuse anything but safetensors; None (vetted catalogue hub ids
            only) to let transformers fall back to ``.bin`` through torch's weights-only unpickler.
        estimated_bytes: expected weight memory (0 when unknown: a hub id outside the catalogue).
        engine: what runs it: "torch", or "onnx" / "ctranslate2" on CPU by setting (``engines``).
        checked: the checked path it runs on under the ``auto`` setting (``engine_record``), or "".
        variant: the compressed variant a variant reference names (``engine_record.variant_ref``), or "".
    """

    task: str
    ref: str
    source: str
    is_local: bool
    folder: Path | None
    device: DeviceInfo
    dtype: str
    int8: bool
    use_safetensors: bool | None
    estimated_bytes: int
    engine: str = engine_choice.TORCH
    checked: str = ""
    variant: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-able summary."""
        return {
            "task": self.task,
            "ref": self.ref,
            "source": self.source,
            "is_local": self.is_local,
            "folder": str(self.folder) if self.folder else None,
            "device": self.device.name,
            "dtype": self.dtype,
            "int8": self.int8,
            "use_safetensors": self.use_safetensors,
            "estimated_mb": round(self.estimated_bytes / 2**20, 1),
            "engine": self.engine,
            "checked": self.checked,
            "variant": self.variant,
        }


def mirror_folder(hub_id: str, settings: Settings) -> Path:
    """Where the offline copy of ``hub_id`` lives inside the models folder."""
    return settings.models_dir / hub_id.replace("/", "--")


def _allowed_roots(settings: Settings) -> list[Path]:
    return [settings.models_dir.resolve(), settings.runs_dir.resolve()]


def is_inside(path: Path, root: Path) -> bool:
    """Whether resolved ``path`` is ``root`` or lies below it."""
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
        raise UnsafeModelError(_("The model reference is empty or malformed."))
    if endpoints.is_endpoint_ref(ref):
        # Only a name the operator configured: the reference never carries an address.
        return endpoints.require_endpoint(None, ref, settings).model, False
    if _HUB_ID.match(ref) and ".." not in ref:
        mirror = mirror_folder(ref, settings)
        if (mirror / "config.json").is_file() or (mirror / "modules.json").is_file():
            _contained(mirror, ref, settings)
            return str(mirror), True
        nested = settings.models_dir / ref
        if (nested / "config.json").is_file():
            return str(_contained(nested, ref, settings)), True
        return ref, False
    candidate = Path(ref).expanduser()
    if not candidate.is_absolute():
        candidate = settings.models_dir / candidate
    resolved = candidate.resolve()
    if not any(is_inside(resolved, root) for root in _allowed_roots(settings)):
        raise _outside(ref, settings)
    if not (resolved / "config.json").is_file():
        raise ModelUnavailableError(
            _("No model folder at {shown_path!r} (it has no config.json).").format(
                shown_path=shown_path(ref, settings)
            ),
            IN_APP_HINT,
            operator_detail(settings),
        )
    return str(_contained(resolved, ref, settings)), True


def _outside(ref: str, settings: Settings) -> UnsafeModelError:
    return UnsafeModelError(
        _("Model folder {shown_path!r} is outside the models folder.").format(shown_path=shown_path(ref, settings)),
        _("Put local models inside the models folder (setting LSM_MODELS_DIR)."),
    )


def _contained(folder: Path, ref: str, settings: Settings) -> Path:
    """``folder`` resolved, after checking that it and every file in it (weights, config,
    tokenizer, chat template) really lie inside the allowed folders: a symlink, whether the folder
    itself (a hub id's mirror) or one file in it, must not lead the loaders out of them.

    Raises:
        UnsafeModelError: the folder or one of its files resolves outside the allowed folders, or
            the folder holds more entries than a model folder plausibly does.
    """
    roots = _allowed_roots(settings)
    resolved = folder.resolve()
    if not any(is_inside(resolved, root) for root in roots):
        raise _outside(ref, settings)
    for count, entry in enumerate(resolved.rglob("*")):
        if count >= _MAX_FOLDER_ENTRIES:
            raise UnsafeModelError(
                _("Model folder {shown_path!r} holds more than {MAX_FOLDER_ENTRIES:,} files.").format(
                    shown_path=shown_path(ref, settings), MAX_FOLDER_ENTRIES=_MAX_FOLDER_ENTRIES
                ),
                _("A model folder holds its config, tokenizer and weights: remove what else is there."),
            )
        if entry.is_symlink() and not any(is_inside(entry.resolve(), root) for root in roots):
            raise UnsafeModelError(
                _("{name!r} in model folder {shown_path!r} links outside the models folder.").format(
                    name=entry.name, shown_path=shown_path(ref, settings)
                ),
                _("Copy the file into the folder instead of linking to it."),
            )
    return resolved


def _dtype_for(task: str, spec: catalogue.ModelSpec | None, device: DeviceInfo, settings: Settings) -> str:
    if device.half_dtype:
        return device.half_dtype
    if device.kind == "cpu" and task in CPU_BFLOAT16_TASKS:
        automatic = settings.cpu_bfloat16.strip().lower() == "auto"
        if wants_cpu_bfloat16(settings.cpu_bfloat16) or (automatic and task in MEMORY_BOUND_TASKS):
            return "bfloat16"
    return spec.cpu_dtype if spec else "float32"


def choose_dtype(task: str, model_ref: str, device: DeviceInfo, settings: Settings | None = None) -> str:
    """Half precision on GPU. On CPU, bfloat16 for the demos where the CPU computes it natively
    and for chat on any CPU (setting ``cpu_bfloat16``), else the catalogue's CPU dtype (float32
    unless it says so)."""
    return _dtype_for(task, catalogue.find_spec(model_ref, task), device, settings or get_settings())


def demo_dtype(device: DeviceInfo, settings: Settings | None = None) -> str:
    """The dtype demo models load in on ``device`` (what the sidebar reports), for models the
    catalogue says nothing special about."""
    return _dtype_for(catalogue.SENTIMENT, None, device, settings or get_settings())


def plan_load(
    task: str,
    model_ref: str,
    settings: Settings | None = None,
    device: DeviceInfo | None = None,
    *,
    training: bool = False,
) -> LoadPlan:
    """Resolve ``model_ref`` for ``task``: source, device, dtype, int8, safetensors policy, size.

    No network access and no weights are read, so a bad reference fails here, fast, with the
    same error a load would raise.

    Args:
        task: a task name from ``backend.models.resolve.catalogue.TASKS``.
        model_ref: a hub id (``org/name``) or a model folder inside the models or runs folder.
        settings: settings to use (default: the process settings).
        device: device to load onto (default: chosen from the settings).
        training: plan a fine-tuning load: float32 weights (mixed precision is the trainer's
            business) and no int8.

    Raises:
        ModelLoadError: unknown task, or a folder with no weights file.
        UnsafeModelError: a malformed reference, a folder outside the allowed folders, or
            pickle-only weights.
        ModelUnavailableError: a folder reference that names no model folder.
    """
    settings = settings or get_settings()
    if task not in catalogue.TASKS:
        raise ModelLoadError(_("Unknown task {task!r}.").format(task=task))
    if endpoints.is_endpoint_ref(model_ref):
        endpoint = endpoints.require_endpoint(task, model_ref, settings)
        # Nothing loads here: no weights, no memory from the budget, no dtype of ours.
        device = endpoints.device_of(endpoint)
        return LoadPlan(task, model_ref.strip(), endpoint.model, False, None, device, endpoints.REMOTE, False, True, 0)
    try:
        variant = engine_record.parse_variant_ref(model_ref)
    except KeyError:
        raise UnsafeModelError(_("The model reference names no variant this app makes.")) from None
    if variant is not None:
        return _variant_plan(task, model_ref, *variant, settings, training)
    source, is_local = resolve_source(model_ref, settings)
    folder = Path(source) if is_local else None
    weight_files = require_safetensors(folder) if folder else []
    if folder is not None:
        architecture.check_architecture(task, folder, shown_path(model_ref, settings), training=training)
    device = device or choose_device(settings.device)
    listed = [spec for spec in catalogue.CATALOGUE if spec.hub_id == model_ref]
    spec = next((s for s in listed if s.task == task), None)
    engine = engine_choice.TORCH if training else engine_choice.engine_for(task, device, settings, folder)
    # The engines start from float32 weights (llama.cpp quantises its copy) and replace int8 Linear layers.
    dtype = "float32" if training or engine != engine_choice.TORCH else _dtype_for(task, spec, device, settings)
    # ONNX Runtime has an int8 copy of its own (dynamic, as torch's); the other engines do not.
    int8_engines = (engine_choice.TORCH, engine_choice.ONNX)
    int8 = not training and engine in int8_engines and engine_choice.wants_int8(task, device, settings)
    checked = _checked_path(task, device, settings, folder) if not training else None
    if checked is not None:
        engine, dtype, int8 = checked.engine, checked.dtype, checked.int8
    # At the chosen dtype even under int8: a budget figure on the safe side of the packed weights.
    estimated = spec.memory_mb(dtype) * 2**20 if spec else loaded_bytes(weight_files, dtype)
    if engine == engine_choice.LLAMA_CPP:
        # Its copy holds 34 bytes per 32 weights (8-bit blocks with a float16 scale): 17/32 of bfloat16.
        estimated = int(loaded_bytes(weight_files, "bfloat16") * _GGUF_SHARE[""])
    return LoadPlan(
        task=task,
        ref=model_ref,
        source=source,
        is_local=is_local,
        folder=folder,
        device=device,
        # Dynamic quantisation starts from float32 weights; weight-only int8 (chat) keeps the dtype.
        dtype="float32" if int8 and task not in engine_choice.WEIGHT_ONLY_TASKS else dtype,
        int8=int8,
        # Catalogue hub ids are vetted; a few only publish .bin weights, which transformers then
        # loads with torch's weights_only unpickler. Every other reference must be safetensors.
        use_safetensors=None if (listed and not is_local) else True,
        estimated_bytes=estimated,
        engine=engine,
        checked=checked.name if checked else "",
    )


# Bytes of a GGUF copy per bfloat16 byte: 8-bit blocks (34 bytes per 32 weights), and Q4_K_M's mix
# of 4- and 6-bit blocks: 0.39 on SmolLM2 (98.9 MB against 256.6, RESULTS.md), whose embeddings keep
# more bits and weigh a third of it; a larger model comes nearer 0.31, so the budget errs on the safe side.
_GGUF_SHARE = {"": 17 / 32, "Q4_K_M": 0.39}


def _variant_plan(
    task: str, model_ref: str, path: engine_record.CandidatePath, inner: str, settings: Settings, training: bool
) -> LoadPlan:
    """The plan of ``inner`` on ``path`` on the CPU, whatever the engine settings say (a variant
    reference is a request for that variant: a Compare column next to its full-precision model).

    Raises:
        ModelLoadError: a variant of another task, a nested variant reference, or a fine-tuning load.
        ModelUnavailableError: the variant's engine is not installed, or the model is not on this disk.
    """
    if training or engine_record.VARIANT_PREFIX in inner or path not in engine_record.VARIANT_PATHS.get(task, ()):
        raise ModelLoadError(_("{variant} is not a variant this app runs for this task.").format(variant=_(path.label)))
    if path.engine != engine_choice.TORCH and not engine_choice.available(path.engine):
        raise ModelUnavailableError(
            _("{variant} needs {engine}, which is not installed on this server.").format(
                variant=_(path.label), engine=engine_choice.PACKAGES.get(path.engine, path.engine)
            )
        )
    base = plan_load(task, inner, settings, choose_device("cpu"))
    if base.folder is None:
        raise ModelUnavailableError(
            _("A compressed variant is made from a model on this server's disk."),
            _("Download the model on the Models page first."),
        )
    weight_files = require_safetensors(base.folder)
    if path.engine == engine_choice.LLAMA_CPP:
        estimated = int(loaded_bytes(weight_files, "bfloat16") * _GGUF_SHARE.get(path.gguf_type, 1.0))
    else:
        estimated = loaded_bytes(weight_files, path.dtype)
    return dataclasses.replace(
        base,
        ref=model_ref.strip(),
        engine=path.engine,
        dtype=path.dtype,
        int8=path.int8,
        estimated_bytes=estimated,
        checked="",
        variant=path.name,
    )


def _checked_path(
    task: str, device: DeviceInfo, settings: Settings, folder: Path | None
) -> engine_record.CandidatePath | None:
    """The path the ``auto`` setting takes for ``task``: the decision's, where its engine is
    installed here and the model is not a fast-mode fine-tune (torch only)."""
    if device.kind != "cpu" or folder is None or not engine_choice.is_auto(task, settings):
        return None
    if (folder / engine_choice.EMBEDDING_HEAD_FILE).is_file():
        return None
    path = engine_record.checked_path(task, folder, settings)
    if path is None or (path.engine != engine_choice.TORCH and not engine_choice.available(path.engine)):
        return None
    return path
