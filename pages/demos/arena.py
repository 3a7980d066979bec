"""Blind arena: two hidden chat models answer the same question; the vote names them. A
leaderboard with intervals, and the votes as preference data."""

import streamlit as st

from backend.arena import blind
from backend.arena.store import ANSWERING, FAILED, READY, SKIPPED, VOTED
from backend.i18n import _
from backend.inference.text_generation import MAX_MESSAGE_CHARS
from backend.text_safety import plain_markdown
from pages.components import arena, demo
from pages.components.auth import current_owner
from pages.components.errors import user_errors
from pages.components.feedback import arena_store

st.title(_("Blind arena"))
st.caption(
    _(
        "Two chat models, drawn at random and hidden, answer your question at once. Judge the replies; "
        "the models are named only after your vote. Votes build the leaderboard and preference data."
    )
)
store = arena_store()
owner = current_owner()
vote_tab, board_tab, export_tab = st.tabs([_("Vote"), _("Leaderboard"), _("Export")])

with vote_tab:
    pair_id = arena.open_pair_id()
    pair = store.pair(pair_id, owner) if pair_id else None
    if pair_id and pair is None:
        arena.leave_pair()
        st.info(_("That comparison is not in this workspace; ask a new question."), icon=":material/info:")
    if pair is None:
        candidates = arena.chat_candidates()
        st.caption(
            _("{count} chat models can answer here; each question draws two of them.").format(count=len(candidates))
        )
        question = st.text_area(_("Question"), key="arena.prompt", height=100, placeholder=_("Ask anything…"))
        if st.button(_("Ask two hidden models"), type="primary", key="arena.ask", icon=":material/casino:") and (
            prompt := demo.checked_text(question, MAX_MESSAGE_CHARS)
        ):
            with user_errors():
                new_id = arena.start_pair(store, owner, prompt, candidates)
                st.markdown(f"**{_('Question')}:** {plain_markdown(prompt)}")
                arena.answer(store, new_id, owner, prompt)
                st.rerun()
    else:
        st.markdown(f"**{_('Question')}:** {plain_markdown(pair.prompt)}")
        if pair.state == ANSWERING:
            st.info(
                _(
                    "The replies were interrupted (the page was left or reloaded). The same two hidden models can answer again."
                ),
                icon=":material/replay:",
            )
            if st.button(_("Answer again"), key="arena.again", icon=":material/replay:"):
                with user_errors():
                    arena.answer(store, pair.id, owner, pair.prompt)
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
    st.caption(_("Chat models ranked by this workspace's blind votes ({task}).").format(task=blind.CHAT))
    arena.show_leaderboard(store, owner)

with export_tab:
    arena.show_exports(store, owner)
