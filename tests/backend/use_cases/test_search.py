"""Semantic search on the tiny embedder, the embedding cache, and the keyword fallback."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from backend.errors import InvalidInputError, ModelLoadError, ModelUnavailableError
from backend.models.loader import LoadedModel, load_model
from backend.models.resolve import catalogue as model_catalogue
from backend.use_cases import embeddings, search
from backend.use_cases.catalogue import Catalogue, load_catalogue
from backend.use_cases.embeddings import EmbeddingCache


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def embedder(tiny_model_paths) -> LoadedModel:
    return load_model(model_catalogue.EMBEDDINGS, tiny_model_paths["embeddings"])


class CountingLoader:
    """Hands out the tiny embedder and counts the calls, as the page's cached get_model would."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.calls = 0

    def __call__(self) -> LoadedModel:
        self.calls += 1
        return self.model


def _unavailable() -> LoadedModel:
    raise ModelUnavailableError("org/model could not be fetched: the Hugging Face Hub is unreachable.", "Go offline.")


def test_semantic_results_are_well_formed_and_sorted(shipped, embedder):
    response = search.search_catalogue(
        "detect fraud in card payments", shipped, load_embedder=CountingLoader(embedder), top_k=7
    )
    assert response.mode == search.SEMANTIC
    assert response.model_ref == embedder.model_ref
    assert response.notice == "" and not response.fell_back
    assert len(response.hits) == 7
    assert [hit.rank for hit in response.hits] == list(range(1, 8))
    scores = [hit.score for hit in response.hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= score <= 1.0 for score in scores)
    ids = {use_case.id for use_case in shipped.use_cases}
    for hit in response.hits:
        assert hit.use_case_id in ids
        assert hit.matched_language in embeddings.LANGUAGES
        assert hit.title_en == shipped.get(hit.use_case_id).title_en
    assert len({hit.use_case_id for hit in response.hits}) == 7
    json.dumps(response.to_dict(), ensure_ascii=False)


@pytest.mark.parametrize(("use_case_id", "language"), [("finance-fraud-detection", "en"), ("health-drug-rd", "zh")])
def test_a_use_case_s_own_text_ranks_it_first(shipped, embedder, use_case_id, language):
    # Identical text gives an identical vector, so this checks the ranking and the row bookkeeping.
    query = shipped.get(use_case_id).search_text(language)
    response = search.search_catalogue(query, shipped, load_embedder=lambda: embedder)
    assert response.hits[0].use_case_id == use_case_id
    assert response.hits[0].matched_language == language
    assert response.hits[0].score == pytest.approx(1.0, abs=1e-3)


def test_scores_are_the_cosine_of_query_and_best_text(shipped, embedder):
    cache = EmbeddingCache()
    catalogue_vectors = cache.get(embedder, shipped)
    response = search.semantic_search("智能客服", embedder, catalogue_vectors, shipped, top_k=3)
    query = embedder.model.encode(["智能客服"], normalize_embeddings=True)[0]
    for hit in response.hits:
        index = [use_case.id for use_case in shipped.use_cases].index(hit.use_case_id)
        texts = [shipped.use_cases[index].search_text(language) for language in embeddings.LANGUAGES]
        vectors = embedder.model.encode(texts, normalize_embeddings=True)
        assert hit.score == pytest.approx(float(np.max(vectors @ query)), abs=1e-3)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_models_give_float32_unit_vectors(tiny_model_paths, dtype):
    # On a GPU the loader picks half precision; its rounding must not push scores past 1.
    model = load_model(model_catalogue.EMBEDDINGS, tiny_model_paths["embeddings"])
    model.model.to(dtype)
    vectors = embeddings.encode_texts(model, ["detect fraud in card payments", "信用卡欺诈"])
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=-1), 1.0, atol=1e-6)


def test_embeddings_are_computed_once_and_reused(shipped, embedder):
    cache = EmbeddingCache()
    loader = CountingLoader(embedder)
    first = search.search_catalogue("fraud", shipped, load_embedder=loader, cache=cache)
    second = search.search_catalogue("信用卡欺诈", shipped, load_embedder=loader, cache=cache)
    assert cache.computed == 1
    assert loader.calls == 2
    assert first.mode == second.mode == search.SEMANTIC
    again = cache.get(embedder, shipped)
    assert again.origin == "memory"
    assert again.vectors.shape == (len(shipped), 2, embedder.model.get_sentence_embedding_dimension())
    assert np.allclose(np.linalg.norm(again.vectors, axis=-1), 1.0, atol=1e-5)


def test_disk_cache_survives_a_restart(shipped, embedder, tmp_path):
    first = EmbeddingCache(tmp_path)
    computed = first.get(embedder, shipped)
    files = list(tmp_path.glob("*.npy"))
    assert len(files) == 1 and shipped.content_hash()[:16] in files[0].name
    restarted = EmbeddingCache(tmp_path)
    loaded = restarted.get(embedder, shipped)
    assert restarted.computed == 0
    assert loaded.origin == "disk"
    assert np.array_equal(loaded.vectors, computed.vectors)


def test_a_bad_disk_file_is_ignored_and_rebuilt(shipped, embedder, tmp_path):
    EmbeddingCache(tmp_path).get(embedder, shipped)
    path = next(tmp_path.glob("*.npy"))
    # A pickled object array must never be unpickled; a wrong shape must not be used.
    np.save(path, np.array([{"payload": 1}], dtype=object), allow_pickle=True)
    rebuilt = EmbeddingCache(tmp_path)
    assert rebuilt.get(embedder, shipped).origin == "computed"
    assert rebuilt.computed == 1
    np.save(path, np.zeros((3, 2, 4), dtype=np.float32))
    assert EmbeddingCache(tmp_path).get(embedder, shipped).origin == "computed"
    path.write_bytes(b"not an array")
    assert EmbeddingCache(tmp_path).get(embedder, shipped).origin == "computed"
    # The rebuilt file is valid again.
    assert EmbeddingCache(tmp_path).get(embedder, shipped).origin == "disk"


def test_an_edited_catalogue_gets_new_embeddings(shipped, embedder):
    cache = EmbeddingCache()
    cache.get(embedder, shipped)
    smaller = Catalogue(shipped.use_cases[:5])
    assert cache.get(embedder, smaller).vectors.shape[0] == 5
    assert cache.computed == 2


def test_fallback_to_keywords_when_the_model_is_unavailable(shipped):
    response = search.search_catalogue("detect fraud in card payments", shipped, load_embedder=_unavailable)
    assert response.mode == search.KEYWORD and response.fell_back
    assert "Semantic search is unavailable" in response.notice
    assert "Hugging Face Hub is unreachable" in response.notice
    assert response.hits[0].use_case_id == "finance-fraud-detection"


def test_fallback_in_chinese_finds_finance(shipped):
    response = search.search_catalogue("信用卡欺诈", shipped, load_embedder=_unavailable)
    assert response.mode == search.KEYWORD
    assert response.hits and {hit.industry for hit in response.hits} == {"finance"}


def test_default_loader_offline_without_a_mirror_falls_back(shipped):
    # Tests run offline with an empty models folder: the real loader raises its typed error.
    response = search.search_catalogue("fraud", shipped)
    assert response.mode == search.KEYWORD
    assert model_catalogue.default_model(model_catalogue.EMBEDDINGS).hub_id in response.notice


def test_a_model_that_cannot_embed_falls_back(shipped, tiny_model_paths):
    classifier = load_model(model_catalogue.SENTIMENT, tiny_model_paths["sentiment"])
    response = search.search_catalogue("fraud", shipped, load_embedder=lambda: classifier)
    assert response.mode == search.KEYWORD
    assert "not a sentence-embedding model" in response.notice


def test_embeddings_of_another_model_are_refused(shipped, embedder):
    vectors = EmbeddingCache().get(embedder, shipped)
    other = Catalogue(shipped.use_cases[:3])
    with pytest.raises(ModelLoadError):
        search.semantic_search("fraud", embedder, vectors, other)


@pytest.mark.parametrize("query", ["", "   ", "x" * (search.MAX_QUERY_CHARS + 1)])
def test_empty_or_long_queries_are_refused(shipped, query):
    with pytest.raises(InvalidInputError):
        search.search_catalogue(query, shipped, load_embedder=_unavailable)
