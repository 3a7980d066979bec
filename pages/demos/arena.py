"""Blind arena: two hidden models (chat, sentiment or translation) answer the same input; the vote
names them. A leaderboard per task with intervals, and the votes as preference data."""

import streamlit as st

from backend.arena import blind
from backend.arena.store import ANSWERING, FAILED, READY, SKIPPED, VOTED
from backend.i18n import N_, _
from backend.inference import image_classification
from backend.inference.text_generation import MAX_MESSAGE_CHARS
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from pages.components import arena, demo
from pages.components.auth import current_owner
from pages.components.errors import user_errors
from pages.components.feedback import arena_store

DEMOS = {
    blind.CHAT: N_("Chat"),
    blind.SENTIMENT: N_("Sentiment"),
    blind.TRANSLATION: N_("Translation"),
    blind.IMAGE: N_("Image classification"),
}
# What the input box is called in each demo.
INPUT_LABELS = {
    blind.CHAT: N_("Question"),
    blind.SENTIMENT: N_("Text to classify"),
    blind.TRANSLATION: N_("Text to translate"),
    blind.IMAGE: N_("Sample image"),
}

st.title(_("Blind arena"))
st.caption(
    _(
        "Two models, drawn at random and hidden, answer your input at once. Judge the answers; "
        "the models are named only after your vote. Votes build the leaderboard and preference data."
    )
)
store = arena_store()
owner = current_owner()
arena_demo = (
    st.segmented_control(
        _("Demo"), list(DEMOS), format_func=lambda name: _(DEMOS[name]), default=blind.CHAT, key="arena.demo"
    )
    or blind.CHAT
)
direction = ""
if arena_demo == blind.TRANSLATION:
    directions = [f"{s.language_pair[0]}-{s.language_pair[1]}" for s in catalogue.models_for(catalogue.TRANSLATION)]
    direction = st.selectbox(_("Direction"), list(dict.fromkeys(directions)), key="arena.direction")
task = blind.task_name(arena_demo, direction)
vote_tab, board_tab, export_tab = st.tabs([_("Vote"), _("Leaderboard"), _("Export")])

with vote_tab:
    pair_id = arena.open_pair_id()
    pair = store.pair(pair_id, owner) if pair_id else None
    if pair_id and pair is None:
        arena.leave_pair()
        st.info(_("That comparison is not in this workspace; ask a new question."), icon=":material/info:")
    if pair is None:
        candidates = arena.candidates(arena_demo, direction)
        if len(candidates) < 2:
            st.warning(
                _(
                    "A blind comparison needs two models that can answer here; {count} can for {demo}. Download "
                    "another on the Models page, fine-tune one, or configure a model server."
                ).format(count=len(candidates), demo=_(DEMOS[arena_demo])),
                icon=":material/group_off:",
            )
        else:
            st.caption(_("{count} models can answer here; each input draws two of them.").format(count=len(candidates)))
        if arena_demo == blind.IMAGE:
            # A pair stores its input as text, so the image arena asks about the shipped samples, by name.
            question = st.selectbox(
                _(INPUT_LABELS[arena_demo]),
                [path.stem for path in image_classification.sample_images()],
                key="arena.sample",
            )
            st.image(image_classification.read_sample(question), width=240)
        else:
            question = st.text_area(
                _(INPUT_LABELS[arena_demo]), key="arena.prompt", height=100, placeholder=_("Type here…")
            )
        if st.button(
            _("Ask two hidden models"),
            type="primary",
            key="arena.ask",
            icon=":material/casino:",
            disabled=len(candidates) < 2,
        ) and (prompt := demo.checked_text(question, MAX_MESSAGE_CHARS)):
            with user_errors():
                new_id = arena.start_pair(store, owner, prompt, candidates, task)
                st.markdown(_("**Input:** {text}").format(text=plain_markdown(prompt)))
                arena.answer(store, new_id, owner, prompt, task)
                st.rerun()
    else:
        st.markdown(_("**Input:** {text}").format(text=plain_markdown(pair.prompt)))
        if blind.demo_of(pair.task)[0] == blind.IMAGE:
            with user_errors():
                st.image(image_classification.read_sample(pair.prompt), width=240)
        if pair.state == ANSWERING:
            st.info(
                _(
                    "The replies were interrupted (the page was left or reloaded). The same two hidden models can answer again."
                ),
                icon=":material/replay:",
            )
            if st.button(_("Answer again"), key="arena.again", icon=":material/replay:"):
                with user_errors():
                    arena.answer(store, pair.id, owner, pair.prompt, pair.task)
                    st.rerun()
        else:
            arena.show_replies(pair)
        if pair.state == READY:
            arena.show_verdicts(store, pair, owner)
        elif pair.state == FAILED:
            st.error(plain_markdown(pair.error), icon=":material/error:")
        elif pair.state == VOTED:
            arena.show_reveal(store, pair, owner)
        elif pair.state == SKIPPED:
            st.info(_("This comparison was skipped, so it is not counted."), icon=":material/skip_next:")
        if pair.state in (FAILED, VOTED, SKIPPED):
            st.button(
                _("New question"), key="arena.new", icon=":material/add:", on_click=arena.leave_pair, type="primary"
            )
        elif pair.state == READY:
            st.caption(_("Judge this pair, or leave it for a new question (it is not counted)."))
            st.button(
                _("Skip"),
                key="arena.skip",
                icon=":material/skip_next:",
                on_click=arena.skip_pair,
                args=(store, pair.id, owner),
            )

with board_tab:
    st.caption(_("Models ranked by this workspace's blind votes ({task}).").format(task=task))
    arena.show_leaderboard(store, owner, task)

with export_tab:
    arena.show_exports(store, owner, task)
