"""The Blind arena, Compare and feedback pages on real tiny models in a private workspace: no model
is named before the vote, a refresh finds the pair, the vote and the feedback land in the database."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from backend import config, model_registry
from backend.arena.store import ANSWERING, READY, VOTED, ArenaStore
from backend.config import PROJECT_ROOT
from backend.inference import sentiment
from backend.inference.footer import RunFooter
from backend.inference.sentiment import Classification, SentimentResult
from backend.models.resolve import catalogue
from tests.support import tiny_models
from tests.support.demo_pages import texts

APP = str(PROJECT_ROOT / "app.py")
ARENA = "pages/demos/arena.py"
COMPARE = "pages/demos/compare.py"
_SHOWN = ("markdown", "caption", "info", "success", "warning", "error", "text", "subheader", "title")


@pytest.fixture
def workspace(tmp_path, monkeypatch, tiny_models_dir):
    """A private state and models folder holding two hand-placed tiny chat models and two classifiers."""
    models = tmp_path / "models"
    placed = {}
    for name, task, source in (
        ("chat-owl", catalogue.TEXT_GENERATION, "text-generation"),
        ("chat-fox", catalogue.TEXT_GENERATION, "text-generation"),
        ("sent-one", catalogue.SENTIMENT, "sentiment"),
        ("sent-two", catalogue.SENTIMENT, "text-classifier-base"),
    ):
        folder = shutil.copytree(tiny_models_dir[source], models / name)
        model_registry.write_manifest(folder, task, name, "2026-12-07T00:00:00")
        placed[name] = str(folder)
    # A classifier whose labels no other model has: it always disagrees.
    odd = tiny_models.build_text_classifier(models / "sent-odd", labels=["happy", "sad"])
    model_registry.write_manifest(odd, catalogue.SENTIMENT, "sent-odd", "2026-12-06T00:00:00")  # listed last
    placed["sent-odd"] = str(odd)
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LSM_MODELS_DIR", str(models))
    config.get_settings.cache_clear()
    yield SimpleNamespace(settings=config.get_settings(), models=placed)
    monkeypatch.undo()
    config.get_settings.cache_clear()


def _open(path: str, query: dict[str, str] | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.switch_page(path)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _everything_shown(app: AppTest) -> str:
    return " | ".join(texts(app, kind) for kind in _SHOWN)


def test_a_blind_vote_names_the_models_only_after_the_vote_and_survives_a_refresh(workspace):
    app = _open(ARENA)
    assert "2 chat models can answer here" in texts(app, "caption")
    app.text_area(key="arena.prompt").input("Say hello.")
    app.button(key="arena.ask").click().run()
    assert not app.exception, [e.value for e in app.exception]
    store = ArenaStore(settings=workspace.settings)
    pair_id = store.latest_open_pair("", "chat")
    assert pair_id is not None and store.pair(pair_id, "").state == READY
    shown = _everything_shown(app)
    assert "Model A" in shown and "Model B" in shown
    assert "chat-owl" not in shown and "chat-fox" not in shown

    refreshed = _open(ARENA, {"pair": pair_id})  # a new session: only the address is left
    assert "chat-owl" not in _everything_shown(refreshed) and "chat-fox" not in _everything_shown(refreshed)
    refreshed.button(key="arena.vote.a").click().run()
    assert not refreshed.exception
    assert store.pair(pair_id, "").state == VOTED
    [vote] = store.votes("", "chat")
    assert vote.verdict == "a" and vote.prompt == "Say hello."
    assert {vote.model_a, vote.model_b} == {workspace.models["chat-owl"], workspace.models["chat-fox"]}
    revealed = texts(refreshed, "success")
    assert "Model A was chat-" in revealed and "chat-owl" in revealed and "chat-fox" in revealed
    assert "Too few votes to rank" in texts(refreshed, "warning")


def test_a_pair_interrupted_mid_reply_is_answered_again_by_the_same_hidden_models(workspace):
    store = ArenaStore(settings=workspace.settings)
    models = (workspace.models["chat-owl"], workspace.models["chat-fox"])
    pair_id = store.open_pair("", "chat", "Count to three.", *models, {})
    app = _open(ARENA, {"pair": pair_id})
    assert store.pair(pair_id, "").state == ANSWERING
    assert "interrupted" in texts(app, "info")
    app.button(key="arena.again").click().run()
    assert not app.exception
    assert store.pair(pair_id, "").state == READY
    assert store.models_to_answer(pair_id, "") == models
    assert "chat-owl" not in _everything_shown(app)


def test_another_workspaces_pair_is_not_opened(workspace):
    store = ArenaStore(settings=workspace.settings)
    theirs = store.open_pair("someone-else", "chat", "secret question", "m1", "m2", {})
    app = _open(ARENA, {"pair": theirs})
    assert "not in this workspace" in texts(app, "info")
    assert "secret question" not in _everything_shown(app)


def test_compare_runs_every_picked_classifier_with_its_cost(workspace):
    app = _open(COMPARE)
    picked = app.multiselect(key="compare.sentiment.models")
    assert set(picked.value) == {workspace.models["sent-one"], workspace.models["sent-two"]}
    app.text_area(key="compare.sentiment.text").input("The battery lasts for days.")
    app.button(key="compare.sentiment.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    captions = texts(app, "caption")
    assert captions.count("texts/s") == 2 and captions.count(" MB") >= 2
    shown = texts(app, "markdown")
    assert "sent-one" in shown and "sent-two" in shown


def test_compare_needs_two_models(workspace):
    app = _open(COMPARE)
    app.multiselect(key="compare.sentiment.models").set_value([workspace.models["sent-one"]]).run()
    assert "Pick at least two models" in texts(app, "info")
    assert app.button(key="compare.sentiment.run").disabled


def test_feedback_under_a_sentiment_answer_is_stored_with_its_comment(workspace, monkeypatch):
    def answer(loaded, text):
        return SentimentResult(
            Classification("positive", 0.9, {"positive": 0.9, "negative": 0.1}, 5, False),
            512,
            RunFooter("CPU (test)", "sent-one", 3.0, 1, "text", 5),
        )

    monkeypatch.setattr(sentiment, "classify_text", answer)
    app = _open("pages/demos/sentiment.py")
    app.text_area(key="sentiment.text").input("<b>Nice</b> phone")
    app.button(key="sentiment.run").click().run()
    [thumbs] = app.feedback
    thumbs.set_value(0).run()
    app.text_input[0].input("Too sure of itself").run()
    next(button for button in app.button if button.key.startswith("sentiment.feedback_send")).click().run()
    assert not app.exception
    [stored] = ArenaStore(settings=workspace.settings).feedback("", catalogue.SENTIMENT)
    assert (stored.rating, stored.comment, stored.prompt, stored.answer) == (
        -1,
        "Too sure of itself",
        "<b>Nice</b> phone",
        "positive",
    )
    assert "feedback on this answer is saved" in texts(app, "caption")


def test_compare_marks_the_classifier_that_disagrees(workspace):
    app = _open(COMPARE)
    refs = [workspace.models[name] for name in ("sent-one", "sent-two", "sent-odd")]
    app.multiselect(key="compare.sentiment.models").set_value(refs).run()
    app.text_area(key="compare.sentiment.text").input("Fine.")
    app.button(key="compare.sentiment.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "The models disagree" in texts(app, "warning")
    assert texts(app, "caption").count("texts/s") == 3


def test_compare_streams_every_chat_reply_and_shows_tokens_per_second(workspace):
    app = _open(COMPARE)
    app.segmented_control(key="compare.task").set_value(catalogue.TEXT_GENERATION).run()
    refs = [workspace.models["chat-owl"], workspace.models["chat-fox"]]
    app.multiselect(key="compare.text-generation.models").set_value(refs).run()
    app.text_area(key="compare.chat.prompt").input("Say hello.")
    app.button(key="compare.chat.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    replies = app.session_state["compare.chat.replies"]
    assert [reply["model_ref"] for reply in replies] == refs
    assert all(reply["text"] and not reply["error"] for reply in replies)
    assert texts(app, "caption").count("tokens/s") == 2


def test_compare_classifies_a_sample_image_with_every_image_model(workspace, tiny_models_dir):
    models = workspace.settings.models_dir
    refs = []
    for name in ("img-one", "img-two"):
        folder = shutil.copytree(tiny_models_dir["image-classification"], models / name)
        model_registry.write_manifest(folder, catalogue.IMAGE_CLASSIFICATION, name, "2026-12-07T00:00:00")
        refs.append(str(folder))
    app = _open(COMPARE)
    app.segmented_control(key="compare.task").set_value(catalogue.IMAGE_CLASSIFICATION).run()
    app.multiselect(key="compare.image-classification.models").set_value(refs).run()
    app.button(key="compare.image.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert texts(app, "caption").count("images/s") == 2


def test_under_sign_in_votes_and_leaderboards_belong_to_their_workspace(workspace, monkeypatch):
    from backend import auth

    policy = auth.AccessPolicy(mode=auth.OIDC, protected=("Demos",), providers=("",))
    monkeypatch.setattr(auth, "load_access_policy", lambda *args, **kwargs: policy)

    def signed_in(email: str, query: dict[str, str] | None = None) -> AppTest:
        app = AppTest.from_file(APP, default_timeout=120)
        app.user = {"is_logged_in": True, "email": email, "email_verified": True, "sub": email}
        app.run()
        app.switch_page(ARENA)
        for key, value in (query or {}).items():
            app.query_params[key] = value
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    ana = signed_in("ana@example.com")
    ana.text_area(key="arena.prompt").input("Say hello.")
    ana.button(key="arena.ask").click().run()
    store = ArenaStore(settings=workspace.settings)
    pair_id = store.latest_open_pair("ana@example.com", "chat")
    ana.button(key="arena.vote.b").click().run()
    assert len(store.votes("ana@example.com", "chat")) == 1
    assert "Too few votes to rank" in texts(ana, "warning")

    bo = signed_in("bo@example.com", {"pair": pair_id})
    assert "not in this workspace" in texts(bo, "info")
    assert "Say hello." not in _everything_shown(bo)
    assert "No votes yet" in texts(bo, "info")
    assert "0 preference pairs from 0 votes" in texts(bo, "caption")
    assert store.votes("bo@example.com") == [] and store.votes("") == []


def test_compare_offers_translation_models_of_the_chosen_direction_only(workspace):
    app = _open(COMPARE)
    app.segmented_control(key="compare.task").set_value(catalogue.TRANSLATION).run()
    assert not app.exception, [e.value for e in app.exception]
    direction = app.selectbox(key="compare.direction").value
    source, target = direction.split("-")
    offered = app.multiselect(key=f"compare.translation.{direction}.models").options
    expected = [
        spec.hub_id for spec in catalogue.models_for(catalogue.TRANSLATION) if spec.language_pair == (source, target)
    ]
    assert len(offered) == len(expected)
    # None of them is downloaded in this workspace, so nothing is picked and nothing can run yet.
    assert "Pick at least two models" in texts(app, "info")
    assert app.button(key=f"compare.translation.{direction}.run").disabled
