"""Searching the use-case catalogue in English or Chinese.

Semantic search embeds the query with the same sentence-transformers model as the catalogue and
ranks use cases by cosine similarity (the better of the English and the Chinese text). When the
model cannot be loaded or used (hub unreachable, not in the offline mirror, out of memory), the
search falls back to keyword ranking and says so in ``notice``: the user still gets results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from backend.errors import ModelLoadError, ShowcaseError
from backend.i18n import N_, _
from backend.models.loader import LoadedModel, load_model
from backend.models.resolve import catalogue as model_catalogue
from backend.uploads import check_text
from backend.use_cases.catalogue import Catalogue, UseCase
from backend.use_cases.embeddings import LANGUAGES, CatalogueEmbeddings, EmbeddingCache, cache_identity, encode_texts
from backend.use_cases.keyword import rank_by_keywords

SEMANTIC = "semantic"
KEYWORD = "keyword"
MAX_QUERY_CHARS = 300
DEFAULT_TOP_K = 5
# Queries in both languages show that search crosses languages; the English ones are marked, so a
# Chinese page asks them in Chinese (shown and searched with ``_()``).
EXAMPLE_QUERIES: tuple[str, ...] = (
    N_("detect fraud in card payments"),
    "信用卡欺诈",
    N_("answer customer questions automatically"),
    "医学影像诊断",
    N_("translate product descriptions"),
    "自动驾驶中的行人检测",
)

EmbedderLoader = Callable[[], LoadedModel]


@dataclass(frozen=True)
class SearchHit:
    """One ranked use case."""

    rank: int
    use_case_id: str
    industry: str
    title_en: str
    title_zh: str
    score: float
    # Semantic search: the language of the text that matched best; keyword search: the terms found.
    matched_language: str = ""
    matched_terms: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        data = asdict(self)
        data["matched_terms"] = list(self.matched_terms)
        return data


@dataclass(frozen=True)
class SearchResponse:
    """What a search returned, which mode ran, and why, if it fell back."""

    query: str
    mode: str
    hits: tuple[SearchHit, ...] = field(default_factory=tuple)
    model_ref: str = ""
    notice: str = ""

    @property
    def fell_back(self) -> bool:
        """True when keyword search ran because the embedding model was unavailable."""
        return self.mode == KEYWORD and bool(self.notice)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return {**asdict(self), "hits": [hit.to_dict() for hit in self.hits]}


def _hit(rank: int, use_case: UseCase, score: float, language: str = "", terms: tuple[str, ...] = ()) -> SearchHit:
    return SearchHit(
        rank=rank,
        use_case_id=use_case.id,
        industry=use_case.industry,
        title_en=use_case.title_en,
        title_zh=use_case.title_zh,
        score=round(float(score), 4),
        matched_language=language,
        matched_terms=terms,
    )


def _bounded(top_k: int, catalogue: Catalogue) -> int:
    return max(1, min(int(top_k), len(catalogue)))


def keyword_search(query: str, catalogue: Catalogue, top_k: int = DEFAULT_TOP_K, notice: str = "") -> SearchResponse:
    """Rank use cases by shared words (English) and character bigrams (Chinese).

    Args:
        query: the user's text, already validated.
        catalogue: the use cases to search.
        top_k: at most this many hits.
        notice: why keyword search ran instead of semantic search, shown to the user.

    Returns:
        Hits with a score in (0, 1], best first; none when no term matches.
    """
    matches = rank_by_keywords(query, catalogue)[: _bounded(top_k, catalogue)]
    hits = tuple(
        _hit(rank, match.use_case, match.score, terms=match.matched_terms)
        for rank, match in enumerate(matches, start=1)
    )
    return SearchResponse(query=query, mode=KEYWORD, hits=hits, notice=notice)


def semantic_search(
    query: str,
    model: LoadedModel,
    embeddings: CatalogueEmbeddings,
    catalogue: Catalogue,
    top_k: int = DEFAULT_TOP_K,
) -> SearchResponse:
    """Rank use cases by cosine similarity between the query and their texts.

    Args:
        query: the user's text, already validated.
        model: the sentence-transformers model that produced ``embeddings``.
        embeddings: the catalogue's vectors (from ``EmbeddingCache.get``).
        catalogue: the use cases, in the order of ``embeddings``.
        top_k: at most this many hits.

    Returns:
        Hits with cosine scores in [-1, 1], best first (ties keep catalogue order).

    Raises:
        ModelLoadError: the embeddings belong to another model or catalogue, or encoding failed.
        InsufficientMemoryError: the device ran out of memory.
    """
    ids = tuple(use_case.id for use_case in catalogue.use_cases)
    if embeddings.model_ref != cache_identity(model) or embeddings.use_case_ids != ids:
        raise ModelLoadError(_("The cached embeddings belong to another model or catalogue."), _("Reload the page."))
    query_vector = encode_texts(model, [query])[0]
    # (use cases, languages): cosine of the query with each text; vectors are unit length.
    similarities = embeddings.vectors @ query_vector
    best_language = similarities.argmax(axis=1)
    scores = similarities.max(axis=1)
    order = np.argsort(-scores, kind="stable")[: _bounded(top_k, catalogue)]
    hits = tuple(
        _hit(rank, catalogue.use_cases[index], scores[index], LANGUAGES[int(best_language[index])])
        for rank, index in enumerate(order, start=1)
    )
    return SearchResponse(query=query, mode=SEMANTIC, hits=hits, model_ref=model.model_ref)


def default_embedder_loader(model_ref: str | None = None) -> EmbedderLoader:
    """A loader for the catalogue's default embedding model (or ``model_ref``) via the model runtime."""
    ref = model_ref or model_catalogue.default_model(model_catalogue.EMBEDDINGS).hub_id
    return lambda: load_model(model_catalogue.EMBEDDINGS, ref)


def fallback_notice(error: ShowcaseError) -> str:
    """The message shown when semantic search is unavailable."""
    return f"Semantic search is unavailable, so these are keyword matches. {error.user_text()}"


def search_catalogue(
    query: str,
    catalogue: Catalogue,
    load_embedder: EmbedderLoader | None = None,
    cache: EmbeddingCache | None = None,
    top_k: int = DEFAULT_TOP_K,
) -> SearchResponse:
    """Search the catalogue semantically, falling back to keywords when the model is unavailable.

    Args:
        query: the user's text in English or Chinese.
        catalogue: the use cases to search.
        load_embedder: returns the loaded embedding model; raises ``ShowcaseError`` when it cannot
            (default: the catalogue default through ``backend.models.loader.load_model``).
        cache: where catalogue embeddings are kept between searches (default: a new in-memory cache,
            so pass one to reuse embeddings).
        top_k: at most this many hits.

    Returns:
        A semantic response, or a keyword response whose ``notice`` says why the model was not used.

    Raises:
        InvalidInputError: the query is empty or longer than ``MAX_QUERY_CHARS``.
    """
    cleaned = check_text(query, MAX_QUERY_CHARS, "The search query")
    loader = load_embedder or default_embedder_loader()
    cache = cache if cache is not None else EmbeddingCache()
    try:
        model = loader()
        embeddings = cache.get(model, catalogue)
        return semantic_search(cleaned, model, embeddings, catalogue, top_k)
    except ShowcaseError as error:
        return keyword_search(cleaned, catalogue, top_k, notice=fallback_notice(error))
