"""Keyword ranking: the fallback search, in English and Chinese."""

from __future__ import annotations

import pytest

from backend.use_cases import keyword, search
from backend.use_cases.catalogue import Catalogue, load_catalogue


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return load_catalogue()


def test_tokenize_english_and_chinese():
    assert keyword.tokenize("Detect the FRAUD in card payments!") == ["detect", "fraud", "card", "payments"]
    assert keyword.tokenize("信用卡欺诈") == ["信用", "用卡", "卡欺", "欺诈"]
    assert keyword.tokenize("诈 and translate") == ["translat", "诈"]
    assert keyword.tokenize("the of and") == []


def test_english_query_finds_fraud_detection_first(shipped):
    response = search.keyword_search("detect fraud in card payments", shipped)
    assert response.mode == search.KEYWORD
    assert response.hits[0].use_case_id == "finance-fraud-detection"
    assert response.hits[0].industry == "finance"
    assert set(response.hits[0].matched_terms) == {"detect", "fraud"}
    assert [hit.rank for hit in response.hits] == list(range(1, len(response.hits) + 1))
    assert [hit.score for hit in response.hits] == sorted((hit.score for hit in response.hits), reverse=True)


def test_chinese_query_finds_finance_use_cases(shipped):
    response = search.keyword_search("信用卡欺诈", shipped)
    assert {hit.industry for hit in response.hits} == {"finance"}
    assert {hit.use_case_id for hit in response.hits} == {"finance-fraud-detection", "finance-credit-evaluation"}


def test_stems_match_across_word_forms(shipped):
    assert search.keyword_search("translate", shipped).hits[0].use_case_id in {
        "nlp-machine-translation",
        "speech-translation",
    }
    assert search.keyword_search("recommending products", shipped).hits[0].use_case_id == "rec-ecommerce"
    # Short words match only exactly: "car" is not "card".
    assert "car" in keyword.tokenize("car") and search.keyword_search("car", shipped).hits == ()


def test_rare_terms_outweigh_common_ones(shipped):
    hits = search.keyword_search("智能客服", shipped).hits
    assert hits[0].use_case_id == "nlp-customer-service"
    assert hits[0].score == 1.0
    assert all(hit.score < 0.5 for hit in hits[1:])


def test_title_hits_outrank_description_hits(shipped):
    # "diagnosis" is in one title and in several descriptions.
    hits = search.keyword_search("diagnosis", shipped).hits
    assert hits[0].use_case_id == "health-disease-diagnosis"
    assert hits[0].score > hits[1].score


def test_nothing_matches_gives_no_hits(shipped):
    assert search.keyword_search("zzzz qqqq", shipped).hits == ()
    assert search.keyword_search("!!!", shipped).hits == ()


def test_top_k_is_bounded(shipped):
    assert len(search.keyword_search("recommendation", shipped, top_k=2).hits) == 2
    assert len(search.keyword_search("recommendation", shipped, top_k=0).hits) == 1
