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
from backend.errors import ShowcaseError
from backend.inference import sentiment
from backend.inference.footer import RunFooter
from backend.inference.sentiment import Classification, SentimentResult
from backend.models.cache import shared_cache
from backend.models.resolve import catalogue
from tests.support import tiny_models
from tests.support.demo_pages import texts
from tests.support.training_data import colour_image, image_zip

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
    assert "2 models can answer here" in texts(app, "caption")
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


def test_a_demo_pick_that_is_not_here_points_to_a_model_that_is(workspace):
    app = _open("pages/demos/sentiment.py")
    default = catalogue.default_model(catalogue.SENTIMENT).hub_id
    app.selectbox(key="sentiment.model").set_value(default).run()
    warning = texts(app, "warning")
    assert "is not downloaded" in warning and "Pick another model in the list that can answer here." in warning


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


def test_compare_takes_the_last_answers_away_when_the_next_text_is_refused(workspace):
    app = _open(COMPARE)
    refs = [workspace.models[name] for name in ("sent-one", "sent-two")]
    app.multiselect(key="compare.sentiment.models").set_value(refs).run()
    app.text_area(key="compare.sentiment.text").input("Fine.")
    app.button(key="compare.sentiment.run").click().run()
    assert texts(app, "caption").count("texts/s") == 2
    app.text_area(key="compare.sentiment.text").input("x" * 20_000)
    app.button(key="compare.sentiment.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "20,000 characters" in texts(app, "warning")
    assert "texts/s" not in texts(app, "caption")


def test_compare_streams_every_chat_reply_and_shows_tokens_per_second(workspace):
    app = _open(COMPARE)
    app.segmented_control(key="compare.task").set_value(catalogue.TEXT_GENERATION).run()
    refs = [workspace.models["chat-owl"], workspace.models["chat-fox"]]
    app.multiselect(key="compare.text-generation.models").set_value(refs).run()
    # Greedy decoding, so whether a tiny model's reply runs into its limit does not depend on sampling.
    app.slider(key="compare.chat.temperature").set_value(0.0).run()
    app.text_area(key="compare.chat.prompt").input("Say hello.")
    app.button(key="compare.chat.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    replies = app.session_state["compare.text-generation.result"]
    assert [reply["model_ref"] for reply in replies] == refs
    assert all(reply["text"] and not reply["error"] for reply in replies)
    assert texts(app, "caption").count("tokens/s") == 2
    # A reply its limit cut says so under it (the tiny models' short context is that limit).
    cut = [reply["limit_note"] for reply in replies if reply["limit_note"]]
    assert cut
    assert all(note.startswith("Stopped at the end of the model's context, after ") for note in cut)
    assert sum(note in texts(app, "caption") for note in cut) == len(cut)


def test_compare_takes_the_last_chat_replies_away_when_the_next_message_is_refused(workspace):
    app = _open(COMPARE)
    app.segmented_control(key="compare.task").set_value(catalogue.TEXT_GENERATION).run()
    refs = [workspace.models["chat-owl"], workspace.models["chat-fox"]]
    app.multiselect(key="compare.text-generation.models").set_value(refs).run()
    app.text_area(key="compare.chat.prompt").input("Say hello.")
    app.button(key="compare.chat.run").click().run()
    assert texts(app, "caption").count("tokens/s") == 2
    app.text_area(key="compare.chat.prompt").input("   ")
    app.button(key="compare.chat.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert texts(app, "warning")
    assert "tokens/s" not in texts(app, "caption")


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
    # None of them is downloaded in this workspace, so nothing is picked and nothing can run yet;
    # the page says so, and what would make a comparison possible, rather than "pick two".
    warning = texts(app, "warning")
    assert "needs two models that can answer here; 0 can" in warning and "Models page" in warning
    assert "Pick at least two models" not in texts(app, "info")
    assert app.button(key=f"compare.translation.{direction}.run").disabled


def _named_as_loaded(app: AppTest, names: tuple[str, ...]) -> set[str]:
    """Which of ``names`` a page shows as loaded: a sidebar line, a "Loaded now" row, a readiness row
    marked loaded, or a demo's "Loaded: it answers at once"."""
    named = set()
    for name in names:
        lines = [str(element.value) for element in app.markdown if str(element.value).startswith("- ")]
        if any(name in line for line in lines):
            named.add(name)
        for frame in app.dataframe:
            table = frame.value
            if "Model" not in table.columns:
                continue
            rows = table[table["Model"].astype(str).str.contains(name, regex=False)]
            if "Loaded" in table.columns:
                rows = rows[rows["Loaded"].astype(bool)]
            if len(rows):
                named.add(name)
    if "Loaded: it answers at once" in texts(app, "caption"):
        named.add("a demo's picked model")
    return named


def test_while_a_pair_is_open_no_other_page_shows_its_models_as_loaded(workspace):
    shared_cache().clear()  # earlier tests' copies of chat-owl (other folders) are not this pair's
    app = _open(ARENA)
    app.text_area(key="arena.prompt").input("Say hello.")
    app.button(key="arena.ask").click().run()
    assert not app.exception, [e.value for e in app.exception]
    store = ArenaStore(settings=workspace.settings)
    pair_id = store.latest_open_pair("", "chat")
    assert store.pair(pair_id, "").state == READY
    hidden = ("chat-owl", "chat-fox")
    chat_demo = "pages/demos/text_generation.py"

    for page in ("pages/overview/models.py", "pages/overview/home.py", chat_demo):
        other = _open(page)
        assert _named_as_loaded(other, hidden) == set(), page
        assert "2 models hidden by an open blind vote" in texts(other, "caption"), page
    assert "No model is loaded" not in texts(_open("pages/overview/models.py"), "info")

    # After the vote both are named as loaded again, in the sidebar and on the Models page.
    _open(ARENA, {"pair": pair_id}).button(key="arena.vote.tie").click().run()
    models_page = _open("pages/overview/models.py")
    assert _named_as_loaded(models_page, hidden) == set(hidden)
    assert "hidden by an open blind vote" not in texts(models_page, "caption")


def test_a_skipped_pair_stops_hiding_its_models(workspace):
    shared_cache().clear()
    app = _open(ARENA)
    app.text_area(key="arena.prompt").input("Say hello.")
    app.button(key="arena.ask").click().run()
    store = ArenaStore(settings=workspace.settings)
    pair_id = store.latest_open_pair("", "chat")
    app.button(key="arena.skip").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert store.hidden_models("") == set() and store.votes("") == []
    assert "pair" not in app.query_params
    assert _named_as_loaded(_open("pages/overview/models.py"), ("chat-owl", "chat-fox")) == {"chat-owl", "chat-fox"}
    revisited = _open(ARENA, {"pair": pair_id})
    assert "skipped" in texts(revisited, "info") and not [b for b in revisited.button if b.key == "arena.vote.a"]


def test_compare_scores_translations_against_references_with_chrf(workspace, tiny_models_dir):
    models = workspace.settings.models_dir
    refs = []
    for name in ("mt-one", "mt-two"):
        folder = shutil.copytree(tiny_models_dir["translation"], models / name)
        model_registry.write_manifest(folder, catalogue.TRANSLATION, name, "2026-12-07T00:00:00")
        refs.append(str(folder))
    app = _open(COMPARE)
    app.segmented_control(key="compare.task").set_value(catalogue.TRANSLATION).run()
    direction = app.selectbox(key="compare.direction").value
    key = f"compare.translation.{direction}"
    app.multiselect(key=f"{key}.models").set_value(refs).run()
    table = b"source,reference\nGood morning.,Guten Morgen.\nThank you.,Danke.\n<b>Hi</b>,Hallo\n"
    app.file_uploader(key=f"{key}.labelled").set_value(("refs.csv", table, "text/csv")).run()
    assert app.selectbox(key=f"{key}.text_column").value == "source"
    assert app.selectbox(key=f"{key}.label_column").value == "reference"
    app.button(key=f"{key}.score").click().run()
    assert not app.exception, [e.value for e in app.exception]
    evaluation, outputs, sources = app.session_state[f"{key}.evaluation"]
    assert sorted(outputs) == sorted(refs) and sources == ["Good morning.", "Thank you.", "<b>Hi</b>"]
    assert evaluation.rows == 3 and len(evaluation.scores) == 2
    # Stacked, name over scores: a table's long model names pushed the scores off a phone's screen.
    [scores] = [m.value for m in app.markdown if "chrF" in m.value and m.value.startswith("1. ")]
    assert len(app.dataframe) == 1  # only the translations, in the expander
    assert {"**mt-one**", "**mt-two**"} <= {line.split(". ", 1)[-1].strip() for line in scores.split("\n")}
    assert "Paired bootstrap test of the top two" in texts(app, "markdown")
    assert "<b>" not in texts(app, "markdown")


def test_a_blind_sentiment_vote_hides_the_classifiers_until_the_vote(workspace):
    app = _open(ARENA)
    app.segmented_control(key="arena.demo").set_value("sentiment").run()
    assert "3 models can answer here" in texts(app, "caption")
    app.text_area(key="arena.prompt").input("The battery lasts for days.")
    app.button(key="arena.ask").click().run()
    assert not app.exception, [e.value for e in app.exception]
    store = ArenaStore(settings=workspace.settings)
    pair_id = store.latest_open_pair("", "sentiment")
    pair = store.pair(pair_id, "")
    assert pair.state == READY and pair.reply_a and pair.reply_b and "%" in pair.reply_a
    assert not any(name in _everything_shown(app) for name in ("sent-one", "sent-two", "sent-odd"))
    app.button(key="arena.vote.b").click().run()
    [vote] = store.votes("", "sentiment")
    assert vote.verdict == "b" and vote.prompt == "The battery lasts for days."
    assert store.votes("", "chat") == []
    assert "Model A was sent-" in texts(app, "success")


def test_a_demo_with_fewer_than_two_models_says_so_and_draws_none(workspace, tiny_models_dir):
    folder = shutil.copytree(tiny_models_dir["translation"], workspace.settings.models_dir / "mt-only")
    model_registry.write_manifest(folder, catalogue.TRANSLATION, "mt-only", "2026-12-07T00:00:00")
    app = _open(ARENA)
    app.segmented_control(key="arena.demo").set_value("translation").run()
    assert "needs two models that can answer here; 1 can for Translation" in texts(app, "warning")
    assert app.button(key="arena.ask").disabled


def test_a_blind_translation_pair_is_filed_under_its_direction(workspace, tiny_models_dir):
    for name in ("mt-one", "mt-two"):
        folder = shutil.copytree(tiny_models_dir["translation"], workspace.settings.models_dir / name)
        model_registry.write_manifest(folder, catalogue.TRANSLATION, name, "2026-12-07T00:00:00")
    app = _open(ARENA)
    app.segmented_control(key="arena.demo").set_value("translation").run()
    direction = app.selectbox(key="arena.direction").value
    app.text_area(key="arena.prompt").input("Good morning.")
    app.button(key="arena.ask").click().run()
    assert not app.exception, [e.value for e in app.exception]
    store = ArenaStore(settings=workspace.settings)
    pair_id = store.latest_open_pair("", f"translation:{direction}")
    assert pair_id is not None and store.pair(pair_id, "").state == READY
    source, target = direction.split("-")
    assert store.pair(pair_id, "").settings == {"source_language": source, "target_language": target}
    assert "mt-one" not in _everything_shown(app) and "mt-two" not in _everything_shown(app)


def _place_image_models(workspace, tiny_models_dir) -> list[str]:
    refs = []
    for name in ("img-one", "img-two"):
        folder = shutil.copytree(tiny_models_dir["image-classification"], workspace.settings.models_dir / name)
        model_registry.write_manifest(folder, catalogue.IMAGE_CLASSIFICATION, name, "2026-12-07T00:00:00")
        refs.append(str(folder))
    return refs


def test_compare_scores_image_models_on_a_labelled_zip(workspace, tiny_models_dir):
    refs = _place_image_models(workspace, tiny_models_dir)
    files = {
        f"{label}/{index}.png": colour_image(rgb, seed=index)
        for label, rgb in (("cat", (200, 30, 30)), ("dog", (30, 30, 200)))
        for index in range(6)
    }
    files["notes.txt"] = b"not an image"
    app = _open(COMPARE)
    app.segmented_control(key="compare.task").set_value(catalogue.IMAGE_CLASSIFICATION).run()
    key = "compare.image-classification"
    app.multiselect(key=f"{key}.models").set_value(refs).run()
    app.file_uploader(key=f"{key}.labelled_zip").set_value(("pets.zip", image_zip(files), "application/zip")).run()
    app.button(key=f"{key}.score").click().run()
    assert not app.exception, [e.value for e in app.exception]
    evaluation, predictions, names = app.session_state[f"{key}.evaluation"]
    assert evaluation.rows == 12 and sorted(predictions) == sorted(refs)
    assert "upload/cat/0.png" in names and "upload/notes.txt" not in names
    # Both copies are the same weights: they agree on every image, so the paired test finds nothing.
    assert evaluation.disagreeing_rows == 0 and not evaluation.paired.significant
    assert (
        evaluation.scores[0].accuracy.value
        == sum(label == truth for label, truth in zip(predictions[refs[0]], ["cat"] * 6 + ["dog"] * 6, strict=True))
        / 12
    )
    assert "Ignored 1 file that is not an image" in texts(app, "caption")
    [scores] = [m.value for m in app.markdown if m.value.startswith("1. ")]
    accuracy = evaluation.scores[0].accuracy
    # The brackets are escaped: a model's name and scores are shown as text, never as Markdown links.
    assert f"Accuracy {accuracy.value:.1%} \\[{accuracy.low:.1%}, {accuracy.high:.1%}\\] · Macro-F1" in scores
    assert scores.count("\n") == 3  # two models, each a name line and a scores line


def test_a_broken_labelled_zip_is_refused_with_a_message(workspace, tiny_models_dir):
    refs = _place_image_models(workspace, tiny_models_dir)
    app = _open(COMPARE)
    app.segmented_control(key="compare.task").set_value(catalogue.IMAGE_CLASSIFICATION).run()
    key = "compare.image-classification"
    app.multiselect(key=f"{key}.models").set_value(refs).run()
    app.file_uploader(key=f"{key}.labelled_zip").set_value(("pets.zip", b"not a zip", "application/zip")).run()
    app.button(key=f"{key}.score").click().run()
    assert not app.exception
    # Bad input is the user's to fix: a warning that names the file, and nothing scored.
    assert "pets.zip is not a zip archive" in texts(app, "warning")
    assert "compare.image-classification.evaluation" not in app.session_state


def test_a_blind_image_vote_on_a_sample_photo(workspace, tiny_models_dir):
    _place_image_models(workspace, tiny_models_dir)
    app = _open(ARENA)
    app.segmented_control(key="arena.demo").set_value("image").run()
    assert "2 models can answer here" in texts(app, "caption")
    assert not app.exception, [e.value for e in app.exception]
    sample = app.selectbox(key="arena.sample").value
    app.button(key="arena.ask").click().run()
    assert not app.exception, [e.value for e in app.exception]
    store = ArenaStore(settings=workspace.settings)
    pair_id = store.latest_open_pair("", "image")
    pair = store.pair(pair_id, "")
    assert pair.state == READY and pair.prompt == sample and "%" in pair.reply_a
    assert "img-one" not in _everything_shown(app) and "img-two" not in _everything_shown(app)
    app.button(key="arena.vote.tie").click().run()
    assert [vote.verdict for vote in store.votes("", "image")] == ["tie"]


def test_with_the_votes_unreadable_no_loaded_model_is_named(workspace, monkeypatch):
    shared_cache().clear()
    app = _open(ARENA)
    app.text_area(key="arena.prompt").input("Say hello.")
    app.button(key="arena.ask").click().run()  # both chat models are now loaded, their pair open

    def unreadable(self, owner, now=None):
        raise ShowcaseError("The job store (PostgreSQL, LSM_JOB_STORE) cannot be reached.")

    monkeypatch.setattr(ArenaStore, "hidden_models", unreadable)
    models_page = _open("pages/overview/models.py")
    assert _named_as_loaded(models_page, ("chat-owl", "chat-fox")) == set()
    assert "2 models hidden by an open blind vote" in texts(models_page, "caption")


def test_a_labelled_table_with_one_column_or_both_pickers_on_one_column_says_so_and_keeps_the_text(workspace):
    # Both cases crashed the page (a frame with the column twice has no .str), losing the typed text.
    app = _open(COMPARE)
    app.text_area(key="compare.sentiment.text").input("Kept while the table is refused.")
    app.file_uploader(key="compare.sentiment.labelled").set_value(("one.csv", b"text\na\nb\n", "text/csv")).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Text column and Label column are both text. Pick two different columns." in texts(app, "warning")
    assert not [button for button in app.button if button.key == "compare.sentiment.score"]

    table = b"text,label\nfine,pos\nawful,neg\n"
    app.file_uploader(key="compare.sentiment.labelled").set_value(("two.csv", table, "text/csv")).run()
    assert "are both" not in texts(app, "warning")
    app.selectbox(key="compare.sentiment.label_column").set_value("text").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Text column and Label column are both text." in texts(app, "warning")
    assert app.text_area(key="compare.sentiment.text").value == "Kept while the table is refused."
