"""Which weights a model class would have to initialise at random from a folder's checkpoint,
found from its config and safetensors headers alone: no tensor is read and nothing is allocated.

``from_pretrained`` reports the same ``missing_keys`` after a full load, but a gate that must answer
before a job is queued (or before a demo reads gigabytes only to refuse them) cannot afford one.
Here transformers itself does the matching (base-model prefixes, legacy names, tied weights, the
class's own keys it may leave out) on a model built on the ``meta`` device from tensors that are
only the headers' shapes, so the answer is the one the real load would give.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from backend.models import safetensors_file


class KeysUnknown(Exception):
    """The folder's checkpoint cannot be matched without loading it (no safetensors at the top,
    an unreadable header, a config transformers cannot map to the class): the load decides."""


# transformers reports this check's missing keys as a real load's ("newly initialized ... consider
# training"): in the server log that reads as if a model had been loaded with random weights. Only
# the checking thread's records are dropped; other threads' loads keep their reports.
_checking = threading.local()


class _QuietWhileChecking(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_checking, "active", False)


_QUIET = _QuietWhileChecking()


@contextmanager
def _quiet_reports() -> Iterator[None]:
    logger = logging.getLogger("transformers.modeling_utils")
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)
    _checking.active = True
    try:
        yield
    finally:
        _checking.active = False


def _meta_state(files: list[Path]) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for file in files:
        for entry in safetensors_file.read_header(file):
            # Only names and shapes matter; a dtype this project does not read (F8) stands as float32.
            state[entry.name] = torch.empty(entry.shape, dtype=entry.dtype or torch.float32, device="meta")
    return state


def missing_keys(folder: Path, auto_class_name: str) -> tuple[Any, list[str]]:
    """The model ``auto_class_name`` (an ``AutoModelFor...``) makes of ``folder``'s config, on the
    ``meta`` device, and the keys of it that the folder's checkpoint does not fill.

    Raises:
        KeysUnknown: the checkpoint cannot be matched from its headers (see the class).
    """
    import transformers

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise KeysUnknown(f"{folder.name} has no safetensors file at its top")
    auto_class = getattr(transformers, auto_class_name)
    try:
        config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        model_class = auto_class._model_mapping[type(config)]
        state = _meta_state(files)
    except (KeyError, ValueError, OSError) as error:  # UnreadableHeader is a ValueError
        raise KeysUnknown(f"{folder.name}: {type(error).__name__}") from error
    try:
        # A state_dict goes with no folder name (transformers would read the files itself), and
        # device_map "meta" keeps every tensor, missing ones included, without storage.
        with _quiet_reports():
            model, loading_info = model_class.from_pretrained(
                None,
                config=config,
                state_dict=state,
                device_map="meta",
                ignore_mismatched_sizes=True,
                output_loading_info=True,
            )
    except (RuntimeError, ValueError, TypeError, KeyError) as error:
        raise KeysUnknown(f"{folder.name}: {type(error).__name__}: {error}") from error
    return model, sorted(loading_info["missing_keys"])
