"""Loading float weights in another dtype without ever holding them in their stored dtype.

``from_pretrained`` reads safetensors through an mmap. When the stored dtype is the loaded one
the model's tensors are views of that mapping (nothing is copied, untouched rows are never read);
when it is not (a float32 checkpoint loaded in bfloat16), every stored byte is paged in to be
converted, and the touched pages of the mapping count in the process's resident memory next to
the converted copy: the sentiment model's load added 777 MB for 270 MB of bfloat16 weights.

Here each tensor is allocated once at the loaded dtype and filled from the file with plain reads
(page cache, not this process's memory) through one small buffer, so a load adds the converted
weights plus that buffer. The tensors are then handed to ``from_pretrained`` as its
``state_dict``, which puts them in the model as they are (no copy) and still does everything else
it does (tied weights, buffers computed at construction, missing-key checks).
"""

from __future__ import annotations

from pathlib import Path

import torch

from backend.models import safetensors_file

# Read at most this much of a tensor at once: big enough for few system calls, small next to the
# weights (the largest tensor, a 120k-token embedding, is 367 MB in float32).
CHUNK_BYTES = 16 * 2**20


class LeanLoadUnsupported(Exception):
    """These files cannot be read tensor by tensor (odd dtype, damaged header): load them the
    ordinary way."""


def _entries(file: Path) -> list[safetensors_file.TensorEntry]:
    try:
        return safetensors_file.read_header(file)
    except safetensors_file.UnreadableHeader as error:
        raise LeanLoadUnsupported(str(error)) from error


def stored_float_dtypes(files: list[Path]) -> set[torch.dtype]:
    """The floating-point dtypes the tensors of ``files`` are stored in (headers only)."""
    found: set[torch.dtype] = set()
    for file in files:
        for entry in _entries(file):
            dtype = entry.dtype
            if dtype is not None and dtype.is_floating_point:
                found.add(dtype)
    return found


def needs_conversion(files: list[Path], dtype: torch.dtype) -> bool:
    """Whether loading ``files`` in ``dtype`` converts some stored float tensor (then the
    ordinary mmap load would hold both copies)."""
    try:
        return bool(stored_float_dtypes(files) - {dtype})
    except (OSError, ValueError, LeanLoadUnsupported):
        return False


def read_state_dict(files: list[Path], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Every tensor of the safetensors ``files``, float ones converted to ``dtype``.

    Each tensor is allocated at its loaded dtype and filled through one reusable buffer of at
    most ``CHUNK_BYTES``, so the stored copy is never held.

    Raises:
        LeanLoadUnsupported: a header is unreadable, a dtype unknown or a file shorter than its header says.
    """
    state: dict[str, torch.Tensor] = {}
    buffer = torch.empty(CHUNK_BYTES, dtype=torch.uint8)
    for file in files:
        with file.open("rb", buffering=0) as handle:
            for entry in _entries(file):
                source = entry.dtype
                if source is None:
                    raise LeanLoadUnsupported(f"{file.name}: tensor {entry.name} has dtype {entry.dtype_name}")
                if not entry.size_matches():
                    raise LeanLoadUnsupported(f"{file.name}: tensor {entry.name} has the wrong size")
                tensor = torch.empty(entry.shape, dtype=dtype if source.is_floating_point else source)
                fill_converted(handle, entry.begin, entry.size, source, tensor.view(-1), buffer)
                state[entry.name] = tensor
    return state


def fill_converted(
    handle, offset: int, size: int, source: torch.dtype, flat: torch.Tensor, buffer: torch.Tensor
) -> None:
    """Fill the flat tensor ``flat`` with the ``size`` bytes at ``offset`` of the open file
    ``handle``, stored as ``source`` and converted to ``flat``'s dtype a ``buffer`` (uint8) at a time.

    Raises:
        LeanLoadUnsupported: the file ends first.
    """
    step = (buffer.numel() // source.itemsize) * source.itemsize
    done = 0
    while done < size:
        count = min(step, size - done)
        try:
            safetensors_file.read_span(handle, offset + done, buffer[:count])
        except safetensors_file.UnreadableTensor as error:
            raise LeanLoadUnsupported(str(error)) from error
        first = done // source.itemsize
        flat[first : first + count // source.itemsize].copy_(buffer[:count].view(source))
        done += count


def load_converted(
    auto_class: type, folder: Path, files: list[Path], dtype: torch.dtype
) -> tuple[torch.nn.Module, dict]:
    """The model in ``folder`` through ``auto_class`` (an ``AutoModelFor...``), its float tensors
    read straight into ``dtype`` (see the module docstring), and transformers' loading info (its
    ``missing_keys`` say which tensors started random). Never runs remote code: the class is
    the one transformers maps the folder's config type to.

    Raises:
        LeanLoadUnsupported: the weight files cannot be read tensor by tensor.
    """
    import transformers

    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    try:
        model_class = auto_class._model_mapping[type(config)]
    except KeyError as error:
        raise LeanLoadUnsupported(f"{auto_class.__name__} has no class for {type(config).__name__}") from error
    state = read_state_dict(files, dtype)
    # A state_dict goes with no folder name: transformers would otherwise read the files itself.
    model, loading_info = model_class.from_pretrained(
        None, config=config, state_dict=state, dtype=dtype, output_loading_info=True
    )
    del state
    # Where from_pretrained(folder) would have said it came from: PEFT reads it when saving an
    # adapter (and warned "Could not find a config file in None" without it).
    model.config.name_or_path = model.name_or_path = str(folder)
    if (folder / "generation_config.json").is_file():
        model.generation_config = transformers.GenerationConfig.from_pretrained(folder, local_files_only=True)
    return model, loading_info
