"""Loading a chat model straight into weight-only int8, one tensor at a time.

``from_pretrained`` materialises the whole model at a float dtype before anything can be quantised,
so an int8 model's load used to hold a float32 copy (dynamic quantisation) or would hold a bfloat16
one: 2-3x the int8 model's size at the peak. Here the model is built on the meta device (no
memory), and each tensor of the safetensors files is read with plain file reads (an mmap'd file
would count every page it touched in the process's resident memory), converted, quantised when it
is a Linear weight, and put in place before the next is read. The peak is the int8 model plus one
tensor.

Only plain causal LMs whose checkpoint names match the model's own parameters load this way;
anything else (renamed keys, missing tensors) raises ``StreamedLoadUnsupported`` and the loader
takes the ordinary path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from backend.models import memory, safetensors_file
from backend.models.load import quantize
from backend.models.load.quantize import Int8WeightOnlyLinear, _linear_slots


class StreamedLoadUnsupported(Exception):
    """This checkpoint cannot be loaded tensor by tensor; load it the ordinary way."""


def read_tensors(
    file: Path, scratch_for: Callable[[str], bool] = lambda name: False
) -> Iterator[tuple[str, torch.Tensor]]:
    """Each tensor of a safetensors file, by name, read with plain file reads (no mmap).

    A tensor for which ``scratch_for(name)`` is true is read into one buffer reused for all such
    tensors and is valid only until the next one is read: the weights that are quantised at once
    need no memory of their own, and reusing one buffer leaves no freed holes for the allocator.
    """
    scratch = torch.empty(0, dtype=torch.uint8)
    try:
        entries = safetensors_file.read_header(file)
    except safetensors_file.UnreadableHeader as error:
        raise StreamedLoadUnsupported(str(error)) from error
    with file.open("rb", buffering=0) as handle:
        for entry in entries:
            name, dtype, size = entry.name, entry.dtype, entry.size
            if dtype is None or not entry.size_matches():
                raise StreamedLoadUnsupported(f"{file.name}: tensor {name} cannot be read ({entry.dtype_name})")
            if not scratch_for(name):
                try:
                    yield name, safetensors_file.read_tensor(handle, entry)
                except safetensors_file.UnreadableTensor as error:
                    raise StreamedLoadUnsupported(f"{file.name}: {error}") from error
                continue
            if scratch.numel() < size:
                scratch = torch.empty(0, dtype=torch.uint8)  # the old one goes first
                scratch = torch.empty(size, dtype=torch.uint8)
            raw = scratch[:size]
            try:
                safetensors_file.read_span(handle, entry.begin, raw)
            except safetensors_file.UnreadableTensor as error:
                raise StreamedLoadUnsupported(f"{file.name}: {error}") from error
            shape = entry.shape
            yield name, (raw.view(dtype).reshape(shape) if math.prod(shape) else torch.empty(shape, dtype=dtype))


def _weight_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise StreamedLoadUnsupported("no safetensors files at the top of the folder")
    return files


def _set_tensor(model: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    module_name, _, leaf = name.rpartition(".")
    try:
        module = model.get_submodule(module_name) if module_name else model
    except AttributeError as error:
        raise StreamedLoadUnsupported(f"the checkpoint's {name} is not in the model") from error
    if leaf in module._parameters:
        module._parameters[leaf] = torch.nn.Parameter(value, requires_grad=False)
    elif leaf in module._buffers:
        module._buffers[leaf] = value
    else:
        raise StreamedLoadUnsupported(f"the checkpoint's {name} is not a tensor of the model")


def load_causal_lm_int8(folder: Path, dtype: torch.dtype) -> Any:
    """The causal LM in ``folder`` with weight-only int8 Linear layers and the rest in ``dtype``.

    Raises:
        StreamedLoadUnsupported: the checkpoint does not map onto the model one to one.
    """
    import transformers
    from accelerate import init_empty_weights

    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    # Buffers (rotary frequencies) are computed at construction, not stored: build them for real.
    with init_empty_weights(include_buffers=False):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype, trust_remote_code=False)
    slots = _linear_slots(model)

    def quantised_at_once(name: str) -> bool:
        owner, _, leaf = name.rpartition(".")
        return owner in slots and leaf == "weight"

    tied_head = quantize.tied_output_embeddings(model)
    tied_head_name = next((f"{n}.weight" for n, m in model.named_modules() if m is tied_head), None)
    for file in _weight_files(folder):
        for name, tensor in read_tensors(file, quantised_at_once):
            if name == tied_head_name:
                continue
            owner, _, leaf = name.rpartition(".")
            # A tensor already in ``dtype`` keeps its memory (``to`` returns it as is).
            value = tensor.to(dtype) if tensor.is_floating_point() else tensor
            if owner in slots and leaf == "weight":
                parent, attribute = slots[owner]
                old = getattr(parent, attribute)
                if not isinstance(old, torch.nn.Linear) or tuple(old.weight.shape) != tuple(value.shape):
                    raise StreamedLoadUnsupported(f"{name} does not match the model's layer")
                new = Int8WeightOnlyLinear(value, None, dtype)
                new.bias = old.bias  # still on meta until the checkpoint's bias arrives
                setattr(parent, attribute, new)
                # Quantising frees float32 blocks between int8 allocations; glibc keeps the holes,
                # and how many depends on the allocation order (0-80 MB on SmolLM2's 156 MB).
                memory.malloc_trim()
            elif owner in slots and leaf == "bias":
                getattr(*slots[owner]).bias = torch.nn.Parameter(value, requires_grad=False)
            else:
                _set_tensor(model, name, value)
            del tensor, value
    _tie_head(model)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.device.type == "meta"]
    if left:
        raise StreamedLoadUnsupported(f"the checkpoint lacks {len(left)} tensors, e.g. {left[0]}")
    if (folder / "generation_config.json").is_file():
        model.generation_config = transformers.GenerationConfig.from_pretrained(folder, local_files_only=True)
    return model.eval()


def _tie_head(model: torch.nn.Module) -> None:
    """A head tied to the input embeddings is the embedding table itself (see ``_linear_slots``);
    the checkpoint's copy, if it has one, was skipped."""
    head = quantize.tied_output_embeddings(model)
    if head is not None:
        head.weight = model.get_input_embeddings().weight
