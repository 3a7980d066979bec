"""Semantic search quality with the real default embedding model, when its offline mirror is present.

The tiny embedder has random weights, so only a real model can show that meaning is matched. The
mirror is looked up in the project's own models folder (where `python -m backend.models download`
puts it), not in the temporary one the other tests use.
"""

from __future__ import annotations

import dataclasses

import pytest

from backend.config import get_settings, load_settings
from backend.models.loader import load_model
from backend.models.resolve import catalogue as model_catalogue
from backend.models.resolve.plan import mirror_folder
from backend.use_cases import search
from backend.use_cases.catalogue import load_catalogue
from backend.use_cases.embeddings import EmbeddingCache
from tests.support.paths import PROJECT_ROOT

DEFAULT_EMBEDDER = model_catalogue.default_model(model_catalogue.EMBEDDINGS).hub_id
PROJECT_MODELS = PROJECT_ROOT / "models"
# Read fresh settings here: the cached ones are set up for the session later, by a fixture.
MIRROR = mirror_folder(DEFAULT_EMBEDDER, dataclasses.replace(load_settings(), models_dir=PROJECT_MODELS))

# The real model's weights are about 470 MB; a tiny stand-in under the same name must not count.
_REAL_WEIGHTS_MIN_BYTES = 100 * 2**20


def _real_model_present() -> bool:
    if not (MIRROR / "modules.json").is_file():
        return False
    return sum(path.stat().st_size for path in MIRROR.rglob("*.safetensors")) >= _REAL_WEIGHTS_MIN_BYTES


pytestmark = [
    pytest.mark.real_weights,
    pytest.mark.skipif(
        not _real_model_present(),
        reason=f"the real embedding model is not in {MIRROR} (run `python -m backend.models download`)",
    ),
]


@pytest.fixture(scope="module")
def real_search():
    settings = dataclasses.replace(get_settings(), models_dir=PROJECT_MODELS)
    model = load_model(model_catalogue.EMBEDDINGS, DEFAULT_EMBEDDER, settings)
    catalogue = load_catalogue()
    cache = EmbeddingCache()

    def run(query: str) -> search.SearchResponse:
        return search.search_catalogue(query, catalogue, load_embedder=lambda: model, cache=cache)

    return run


def test_card_fraud_ranks_a_finance_use_case_first(real_search):
    response = real_search("detect fraud in card payments")
    assert response.mode == search.SEMANTIC
    assert response.hits[0].industry == "finance"
    assert "finance-fraud-detection" in {hit.use_case_id for hit in response.hits[:3]}


def test_chinese_card_fraud_ranks_a_finance_use_case_first(real_search):
    response = real_search("信用卡欺诈")
    assert response.hits[0].industry == "finance"
