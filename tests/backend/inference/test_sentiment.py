"""Sentiment (text classification) on the tiny BERT classifier, for real."""

import json
import math
import shutil
import threading

import pandas as pd
import pytest

from backend import uploads
from backend.errors import InvalidInputError
from backend.i18n import use_language
from backend.inference import sentiment, tables
from backend.models.loader import load_model
from tests.support import tiny_models, tolerances


def test_every_label_gets_a_probability_and_the_best_is_the_label(sentiment_model):
    result = sentiment.classify_text(sentiment_model, "I love this product, it works great.")
    classification = result.classification
    assert list(classification.scores) == tiny_models.SENTIMENT_LABELS
    assert math.isclose(sum(classification.scores.values()), 1.0, abs_tol=1e-4)
    assert classification.label == max(classification.scores, key=classification.scores.get)
    assert classification.score == classification.scores[classification.label]
    assert classification.tokens > 2 and not classification.truncated
    assert result.notice == ""
    assert result.footer.items == 1 and result.footer.unit == "text"
    assert result.footer.tokens == classification.tokens
    assert result.footer.model == "tiny/sentiment"  # its place in the models folder, no server path
    assert result.footer.device == sentiment_model.device.name
    json.dumps(result.to_dict())


def test_long_text_is_truncated_with_a_notice(sentiment_model):
    long_text = "我非常喜欢这个产品，效果很好。" * 20
    result = sentiment.classify_text(sentiment_model, long_text)
    assert result.classification.truncated
    assert result.classification.tokens == sentiment.token_limit(sentiment_model) == 64
    assert "64 tokens" in result.notice


def test_batches_give_the_same_scores_as_single_texts_in_input_order(tiny_model_paths, settings, compute_dtype):
    model = load_model(
        "sentiment", tiny_model_paths["sentiment"], tolerances.settings_computing_in(settings, compute_dtype)
    )
    texts = ["这是我遇到过的最差的服务。", "fast", "The weather is fine today and the model is fast.", "大模型"]
    progress = []
    batched = sentiment.classify(model, texts, batch_size=3, progress=lambda d, t: progress.append((d, t)))
    single = [sentiment.classify(model, [text], batch_size=1)[0] for text in texts]
    # Padded and unpadded rows run through kernels of other shapes: a few roundings of the dtype.
    bound = tolerances.tolerance(model.dtype, roundings=4).atol
    for one, many in zip(single, batched, strict=True):
        assert one.tokens == many.tokens
        for label in one.scores:
            assert one.scores[label] == pytest.approx(many.scores[label], abs=bound)
    assert progress == [(3, 4), (4, 4)]


@pytest.mark.parametrize("texts", [[], ["fine", "   "], ["x" * (sentiment.MAX_CHARS + 1)]])
def test_bad_input_is_refused_with_a_message(sentiment_model, texts):
    with pytest.raises(InvalidInputError):
        sentiment.classify(sentiment_model, texts)


def test_a_fine_tuned_model_shows_its_own_labels(settings, tmp_path_factory):
    folder = settings.models_dir / "inference-tests" / "spam-classifier"
    shutil.rmtree(folder, ignore_errors=True)
    tiny_models.build_text_classifier(folder, labels=["spam", "ham"])
    loaded = load_model("sentiment", str(folder), settings)
    [result] = sentiment.classify(loaded, ["win a free prize now"])
    assert set(result.scores) == {"spam", "ham"}
    assert result.label in {"spam", "ham"}


def test_fast_mode_embedding_head_models_work_unchanged(settings, tiny_model_paths):
    embedding_head = pytest.importorskip("backend.models.load.embedding_head")
    from sentence_transformers import SentenceTransformer

    embedder = SentenceTransformer(tiny_model_paths["embeddings"], device="cpu")
    classifier, tokenizer = embedding_head.from_sentence_transformer(embedder, {0: "complaint", 1: "praise"})
    folder = settings.models_dir / "inference-tests" / "fast-mode"
    shutil.rmtree(folder, ignore_errors=True)
    classifier.save(folder, tokenizer)
    loaded = load_model("sentiment", str(folder), settings)
    results = sentiment.classify(loaded, ["I love it", "这是我遇到过的最差的服务。"])
    assert [set(r.scores) for r in results] == [{"complaint", "praise"}] * 2


def test_classify_table_adds_label_columns_and_keeps_every_row(sentiment_model):
    frame = pd.DataFrame({"id": [1, 2, 3], "review": ["great product", "", "最差的服务"]})
    run = sentiment.classify_table(sentiment_model, frame, "review", batch_size=2)
    table = run.table
    assert len(table) == 3 and run.skipped == 1
    assert table["id"].tolist() == [1, 2, 3]
    assert {"label", "score", "p(negative)", "p(neutral)", "p(positive)", "truncated", "note"} <= set(table.columns)
    assert table.loc[0, "label"] in tiny_models.SENTIMENT_LABELS
    assert table.loc[1, "note"] == "empty text: skipped"
    assert run.footer.items == 2 and run.footer.unit == "text"
    json.dumps(run.to_dict(), default=str)


def _csv_header(table: pd.DataFrame) -> list[str]:
    return uploads.to_safe_csv(table).decode("utf-8-sig").splitlines()[0].split(",")


def test_the_results_csv_heads_the_added_columns_in_the_readers_language(sentiment_model):
    # The table's own "label" column clashes with the result's: both stay, told apart.
    frame = pd.DataFrame({"review": ["great product", "最差的服务"], "label": ["pos", "neg"]})
    run = sentiment.classify_table(sentiment_model, frame, "review", batch_size=2)
    keys = list(run.table.columns)
    assert keys[:4] == ["review", "label", "label (result)", "score"]
    with use_language("en"):
        assert _csv_header(tables.shown_table(run.table)) == keys
    with use_language("zh"):
        shown = tables.shown_table(run.table)
        header = _csv_header(shown)
    # Stable keys stay in the stored run; the CSV a person downloads is headed in Chinese, the
    # uploaded table's own columns under their own names, in the same order, cells unchanged.
    assert list(run.table.columns) == keys
    assert header[:4] == ["review", "label", "标签（结果）", "得分"]
    assert header[-2:] == ["已截断", "备注"]
    assert [column for column in header if column.startswith("p(")] == [k for k in keys if k.startswith("p(")]
    assert shown.iloc[:, 2].tolist() == run.table["label (result)"].tolist()


def test_concurrent_requests_on_one_shared_model_match_sequential_ones(sentiment_model):
    # Several sessions share one cached model and tokenizer; each call's truncation settings must
    # not leak into another's, and the fast tokenizer must not refuse concurrent use.
    texts = [
        ["I love it"],
        ["这是我遇到过的最差的服务。" * 8],
        ["fast model", "大模型"],
        ["The weather is fine today."],
    ]
    sequential = [sentiment.classify(sentiment_model, batch) for batch in texts]
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(texts))

    def worker(index: int) -> None:
        barrier.wait()
        try:
            for _ in range(5):
                results[index] = sentiment.classify(sentiment_model, texts[index])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for index, expected in enumerate(sequential):
        assert [(r.label, r.tokens, r.truncated) for r in results[index]] == [
            (r.label, r.tokens, r.truncated) for r in expected
        ]
