"""Sentence embeddings of the catalogue, computed once per (model, catalogue) and cached.

Each use case is embedded twice, its English and its Chinese title + description, so a query in
either language meets a text in its own language as well as the other one. The vectors are
L2-normalised, so a dot product is the cosine similarity.

The cache is an object (not a module global) so the UI can hold one per process and tests can use
their own. It keeps vectors in memory and, when given a folder, as ``.npy`` files named by model
and catalogue hash; those files are read with ``allow_pickle=False`` and checked before use.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import InsufficientMemoryError, ModelLoadError
from backend.i18n import _
from backend.inference import remote
from backend.models.loader import LoadedModel
from backend.models.memory import is_out_of_memory
from backend.models.resolve.endpoints import RemoteModel
from backend.use_cases.catalogue import Catalogue

LANGUAGES: tuple[str, ...] = ("en", "zh")
_BATCH_SIZE = 32
# Few models and catalogues ever meet in one process; the bound only stops unbounded growth.
_MAX_ENTRIES = 8


@dataclass(frozen=True)
class CatalogueEmbeddings:
    """Unit vectors of shape (use cases, languages, dim), rows in catalogue order."""

    model_ref: str
    catalogue_hash: str
    use_case_ids: tuple[str, ...]
    vectors: np.ndarray
    origin: str  # "computed", "disk" or "memory": where this copy came from

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return int(self.vectors.shape[-1])

    def summary(self) -> dict[str, object]:
        """JSON-able description (without the vectors)."""
        return {
            "model_ref": self.model_ref,
            "catalogue_hash": self.catalogue_hash,
            "use_cases": len(self.use_case_ids),
            "languages": list(LANGUAGES),
            "dimension": self.dimension,
            "origin": self.origin,
        }


def encode_texts(model: LoadedModel | RemoteModel, texts: list[str]) -> np.ndarray:
    """Unit-length float32 embeddings of ``texts`` with a loaded sentence-transformers model or
    an embeddings endpoint.

    Raises:
        InsufficientMemoryError: the device ran out of memory.
        ModelLoadError: the model is not a sentence embedder or failed on the input.
        EndpointError: the endpoint failed (unreachable, refused, busy, too slow).
    """
    if isinstance(model, RemoteModel):
        return remote.embed(model, texts)
    encoder = model.model
    if not hasattr(encoder, "encode"):
        raise ModelLoadError(
            _("{model_ref} is not a sentence-embedding model.").format(model_ref=model.model_ref),
            _("Pick an embeddings model."),
        )
    try:
        vectors = encoder.encode(
            texts,
            batch_size=_BATCH_SIZE,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
    except (MemoryError, RuntimeError, ValueError, TypeError) as error:
        if is_out_of_memory(error):
            raise InsufficientMemoryError(
                _("Not enough memory to embed the catalogue."), _("Free memory or pick a smaller embedding model.")
            ) from error
        raise ModelLoadError(
            _("{model_ref} failed to embed text ({error}).").format(
                model_ref=model.model_ref, error=type(error).__name__
            )
        ) from error
    vectors = np.asarray(vectors, dtype=np.float32)
    # Half-precision models (the GPU default) return norms off by up to ~0.3%; renormalising in float32
    # keeps every score a true cosine in [-1, 1].
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def cache_identity(model: LoadedModel | RemoteModel) -> str:
    """What catalogue vectors are filed under: the model reference, and for an endpoint also the
    model it serves, since the operator may point the same name at another model (other vectors)."""
    return f"{model.model_ref}|{model.endpoint.model}" if isinstance(model, RemoteModel) else model.model_ref


def _cache_file_name(model_ref: str, catalogue_hash: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9]+", "-", Path(model_ref).name or model_ref).strip("-")[:40] or "model"
    model_digest = hashlib.sha256(model_ref.encode("utf-8")).hexdigest()[:12]
    return f"{readable}-{model_digest}-{catalogue_hash[:16]}.npy"


class EmbeddingCache:
    """Catalogue embeddings per (model reference, catalogue hash), in memory and optionally on disk."""

    def __init__(self, folder: Path | None = None, max_entries: int = _MAX_ENTRIES) -> None:
        self.folder = folder
        self.max_entries = max_entries
        self.computed = 0  # how many times the catalogue was actually encoded
        self._entries: OrderedDict[tuple[str, str], CatalogueEmbeddings] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: LoadedModel, catalogue: Catalogue) -> CatalogueEmbeddings:
        """The catalogue's embeddings under ``model``: from memory, else disk, else computed now.

        Raises:
            InsufficientMemoryError, ModelLoadError: encoding failed (see ``encode_texts``).
        """
        key = (cache_identity(model), catalogue.content_hash())
        # One lock for the whole lookup: two sessions asking at once must not both encode.
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                return CatalogueEmbeddings(
                    cached.model_ref, cached.catalogue_hash, cached.use_case_ids, cached.vectors, "memory"
                )
            embeddings = self._read_disk(key, catalogue) or self._compute(model, catalogue, key)
            self._entries[key] = embeddings
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return embeddings

    def _compute(self, model: LoadedModel, catalogue: Catalogue, key: tuple[str, str]) -> CatalogueEmbeddings:
        texts = [use_case.search_text(language) for use_case in catalogue.use_cases for language in LANGUAGES]
        flat = encode_texts(model, texts)
        vectors = flat.reshape(len(catalogue), len(LANGUAGES), flat.shape[-1])
        vectors.setflags(write=False)
        self.computed += 1
        ids = tuple(use_case.id for use_case in catalogue.use_cases)
        embeddings = CatalogueEmbeddings(key[0], key[1], ids, vectors, "computed")
        self._write_disk(key, vectors)
        return embeddings

    def _path(self, key: tuple[str, str]) -> Path | None:
        return self.folder / _cache_file_name(*key) if self.folder else None

    def _read_disk(self, key: tuple[str, str], catalogue: Catalogue) -> CatalogueEmbeddings | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        # A file from another catalogue size, a truncated write or a foreign array is ignored and rebuilt.
        if (
            vectors.dtype != np.float32
            or vectors.ndim != 3
            or vectors.shape[:2] != (len(catalogue), len(LANGUAGES))
            or not np.isfinite(vectors).all()
        ):
            return None
        vectors.setflags(write=False)
        ids = tuple(use_case.id for use_case in catalogue.use_cases)
        return CatalogueEmbeddings(key[0], key[1], ids, vectors, "disk")

    def _write_disk(self, key: tuple[str, str], vectors: np.ndarray) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a reader never sees half a file.
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, vectors, allow_pickle=False)
            os.replace(temporary, path)
        except OSError:
            # The disk copy only saves time on the next start; a read-only disk is not an error.
            return
