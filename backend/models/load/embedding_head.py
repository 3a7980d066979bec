"""A text classifier made of a sentence-embedding encoder and a linear head (fast-mode fine-tunes).

It behaves like a ``transformers`` sequence classifier for the demos: ``config.id2label``,
``forward(input_ids, attention_mask, ...) -> .logits``. On disk it is an ordinary encoder folder
(``config.json`` with the labels, safetensors weights, tokenizer) plus ``embedding_head.json`` and
``embedding_head.safetensors``; the loader recognises the folder by that JSON file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from backend.errors import ModelLoadError
from backend.i18n import _
from backend.models import safetensors_file
from backend.models.resolve.engine_choice import EMBEDDING_HEAD_FILE

HEAD_WEIGHTS_FILE = "embedding_head.safetensors"
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len_tokens")
_FORMAT_VERSION = 1


class ClassifierOutput(dict):
    """What ``forward`` returns: ``.logits`` (and ``.loss`` when labels were given)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as error:
            raise AttributeError(name) from error


def pool(token_embeddings: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Sentence vectors from token vectors, ignoring padding (as sentence-transformers' Pooling)."""
    mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)
    if mode == "cls":
        return token_embeddings[:, 0]
    if mode == "max":
        return token_embeddings.masked_fill(mask == 0, torch.finfo(token_embeddings.dtype).min).max(dim=1).values
    summed = (token_embeddings * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)
    return summed / (counts.sqrt() if mode == "mean_sqrt_len_tokens" else counts)


class EmbeddingHeadClassifier(torch.nn.Module):
    """Encoder -> pooling (-> L2 normalisation) -> linear layer over the classes."""

    def __init__(self, encoder: Any, pooling: str, normalize: bool, id2label: dict[int, str]) -> None:
        super().__init__()
        if pooling not in POOLING_MODES:
            raise ModelLoadError(
                _("Pooling {pooling!r} is not supported for fast mode.").format(pooling=pooling),
                _("Use one of {value}.").format(value=", ".join(POOLING_MODES)),
            )
        self.encoder = encoder
        self.pooling = pooling
        self.normalize = normalize
        self.config = encoder.config
        self.config.id2label = {int(i): str(label) for i, label in id2label.items()}
        self.config.label2id = {label: i for i, label in self.config.id2label.items()}
        self.config.num_labels = len(id2label)
        self.head = torch.nn.Linear(encoder.config.hidden_size, len(id2label))

    def embed(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Pooled sentence vectors in float32."""
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**inputs).last_hidden_state
        vectors = pool(hidden, attention_mask, self.pooling).float()
        return torch.nn.functional.normalize(vectors, dim=-1) if self.normalize else vectors

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **_: Any,
    ) -> ClassifierOutput:
        """Logits (examples, classes); cross-entropy loss too when ``labels`` are given."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        logits = self.head(self.embed(input_ids, attention_mask, token_type_ids).to(self.head.weight.dtype))
        output = ClassifierOutput(logits=logits)
        if labels is not None:
            output["loss"] = torch.nn.functional.cross_entropy(logits.float(), labels)
        return output

    def save(self, folder: Path, tokenizer: Any) -> None:
        """Write the encoder, tokenizer, head weights and the marker file into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        save_file(
            {k: v.detach().float().contiguous().cpu() for k, v in self.head.state_dict().items()},
            str(folder / HEAD_WEIGHTS_FILE),
        )
        marker = {
            "format": _FORMAT_VERSION,
            "pooling": self.pooling,
            "normalize": self.normalize,
            "num_labels": self.config.num_labels,
        }
        (folder / EMBEDDING_HEAD_FILE).write_text(json.dumps(marker, indent=2), encoding="utf-8")


def from_sentence_transformer(model: Any, id2label: dict[int, str]) -> tuple[EmbeddingHeadClassifier, Any]:
    """Build a classifier (untrained head) from a loaded ``SentenceTransformer``; returns it and the tokenizer.

    Raises:
        ModelLoadError: the embedder is not a plain transformer + pooling (+ normalize) stack.
    """
    modules = list(model)
    names = [type(module).__name__ for module in modules]
    if (
        len(modules) < 2
        or names[1] != "Pooling"
        or any(n != "Normalize" for n in names[2:])
        or not hasattr(modules[0], "auto_model")
    ):
        raise ModelLoadError(
            _("Fast mode needs an embedder made of a transformer and a pooling layer; this one has {value}.").format(
                value=", ".join(names)
            ),
            _("Pick another embeddings model."),
        )
    pooling_mode = modules[1].pooling_mode
    pooling = pooling_mode if isinstance(pooling_mode, str) else "+".join(pooling_mode)
    classifier = EmbeddingHeadClassifier(modules[0].auto_model, pooling, "Normalize" in names, id2label)
    tokenizer = modules[0].tokenizer
    max_seq_length = getattr(modules[0], "max_seq_length", None)
    if isinstance(max_seq_length, int) and max_seq_length > 0:
        tokenizer.model_max_length = max_seq_length
    return classifier, tokenizer


def load_embedding_head(folder: Path, torch_device: str, dtype: torch.dtype) -> tuple[EmbeddingHeadClassifier, Any]:
    """Load a saved embedding-head classifier and its tokenizer for inference (safetensors only).

    Raises:
        ModelLoadError: the folder's marker or head weights are missing or inconsistent.
    """
    from transformers import AutoModel, AutoTokenizer

    try:
        marker = json.loads((folder / EMBEDDING_HEAD_FILE).read_text(encoding="utf-8"))
        common = {"local_files_only": True, "trust_remote_code": False}
        encoder = AutoModel.from_pretrained(folder, dtype=dtype, use_safetensors=True, **common)
        tokenizer = AutoTokenizer.from_pretrained(folder, **common)
        head_weights = dict(safetensors_file.read_tensors(folder / HEAD_WEIGHTS_FILE))
        id2label = dict(encoder.config.id2label)
        classifier = EmbeddingHeadClassifier(encoder, str(marker["pooling"]), bool(marker["normalize"]), id2label)
        classifier.head.load_state_dict(head_weights)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelLoadError(
            _("The fast-mode model in {name} could not be read ({error}).").format(
                name=folder.name, error=type(error).__name__
            ),
            _("It may be incomplete: export or train it again."),
        ) from error
    classifier.head.to(dtype)
    classifier.to(torch_device)
    classifier.eval()
    return classifier, tokenizer
