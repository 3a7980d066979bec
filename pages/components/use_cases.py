"""Widgets of the applications page: catalogue and embedding caches, filters, demo links, search results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from backend import input_language, model_registry
from backend.config import get_settings
from backend.errors import ShowcaseError
from backend.i18n import N_, _, current_language
from backend.models.resolve import catalogue as model_catalogue
from backend.models.resolve import endpoints
from backend.text_safety import plain_markdown
from backend.use_cases import catalogue as catalogue_file
from backend.use_cases import search
from backend.use_cases import vocabulary as vocab
from backend.use_cases.catalogue import Catalogue, UseCase
from backend.use_cases.embeddings import EmbeddingCache
from pages.components import models as model_state
from pages.components.demo import marked_example_label
from pages.components.errors import show_error
from pages.components.models import get_model
from pages.components.navigation import PAGES

QUERY_KEY = "applications.query"
INDUSTRIES_KEY = "applications.industries"
TASKS_KEY = "applications.tasks"
MATURITY_KEY = "applications.maturity"
STATED_ONLY_KEY = "applications.stated_only"
EMBEDDING_MODEL_KEY = "applications.model"
# Semantic hits say which of the use case's two texts matched best.
_LANGUAGE_NAMES = {"en": N_("English text"), "zh": N_("Chinese text")}
# Three per row keeps each example query readable in full.
_EXAMPLES_PER_ROW = 3


@st.cache_resource(show_spinner=False)
def use_case_catalogue() -> Catalogue:
    """The validated catalogue, read once per process (it ships with the app)."""
    return catalogue_file.load_catalogue()


@st.cache_resource(show_spinner=False)
def embedding_cache() -> EmbeddingCache:
    """One embedding cache per process, with a disk copy in the state folder so restarts skip encoding."""
    return EmbeddingCache(folder=get_settings().state_dir / "catalog-embeddings")


def load_catalogue_or_stop() -> Catalogue:
    """The catalogue, or an error message and the end of the page."""
    try:
        return use_case_catalogue()
    except ShowcaseError as error:
        show_error(error)
        st.stop()
        raise  # st.stop() raises; this keeps type checkers honest


@dataclass(frozen=True)
class Filters:
    """What the user chose to look at; empty tuples mean "all"."""

    industries: tuple[str, ...]
    tasks: tuple[str, ...]
    maturities: tuple[str, ...]
    stated_only: bool


def show_filters() -> Filters:
    """Industry, task and maturity pickers plus the "tasks the documents name" switch."""
    columns = st.columns(3)
    industries = columns[0].multiselect(
        _("Industry"),
        vocab.term_keys(vocab.INDUSTRIES),
        format_func=lambda key: vocab.find_term(vocab.INDUSTRIES, key).label(current_language()),
        placeholder=_("All industries"),
        key=INDUSTRIES_KEY,
    )
    tasks = columns[1].multiselect(
        _("AI task"),
        vocab.term_keys(vocab.AI_TASKS),
        format_func=lambda key: vocab.find_term(vocab.AI_TASKS, key).label(current_language()),
        placeholder=_("All tasks"),
        key=TASKS_KEY,
    )
    maturities = columns[2].multiselect(
        _("Maturity (as the documents present it)"),
        vocab.term_keys(vocab.MATURITY),
        format_func=lambda key: vocab.find_term(vocab.MATURITY, key).label(current_language()),
        placeholder=_("Current, future and trend"),
        key=MATURITY_KEY,
    )
    stated_only = st.toggle(
        _("Count only tasks the documents name (leave out tasks mapped by the catalogue's editors)"),
        key=STATED_ONLY_KEY,
    )
    return Filters(tuple(industries), tuple(tasks), tuple(maturities), stated_only)


def _registered_paths() -> set[str]:
    return {page.path for page in PAGES}


def show_demo_links(use_cases: Iterable[UseCase]) -> None:
    """One link per live demo that shows some of these use cases, with the use cases it shows."""
    shown: dict[str, list[str]] = {}
    for use_case in use_cases:
        if use_case.demo_page:
            shown.setdefault(use_case.demo_page, []).append(use_case.title(current_language()))
    if not shown:
        st.caption(_("None of these use cases has a live demo in this app yet."))
        return
    registered = _registered_paths()
    with st.container(key="applications-demo-links"):
        _show_links(shown, registered)


def _show_links(shown: dict[str, list[str]], registered: set[str]) -> None:
    for demo in vocab.DEMO_PAGES:
        if demo.path not in shown:
            continue
        titles = ", ".join(shown[demo.path])
        shows = _("Shows: {titles}").format(titles=titles)
        if demo.path in registered:
            # A link's label stays on one line and is cut at the screen's edge (a phone cuts most of
            # it), so the link is the demo's short title and what it shows wraps below it.
            st.page_link(demo.path, label=_(demo.title), icon=":material/play_circle:")
            st.caption(f"{_(demo.shows)}  \n{shows}")
        else:
            st.markdown(
                ":material/schedule: "
                + _("**{title}** (coming soon): {shows}").format(title=_(demo.title), shows=_(demo.shows))
            )
            st.caption(shows)


def _set_query(text: str) -> None:
    st.session_state[QUERY_KEY] = text


def _model_label(ref: str) -> str:
    spec = model_catalogue.find_spec(ref)
    return spec.title if spec else model_registry.display_name(ref)


def show_search_box() -> tuple[str, str]:
    """The query box, example queries and the embedding-model picker: ``(query, model_ref)``."""
    models = model_catalogue.models_for(model_catalogue.EMBEDDINGS)
    query_column, model_column = st.columns([3, 1])
    languages_by_ref = {spec.hub_id: spec.languages for spec in models}
    query = query_column.text_input(
        _("Describe a use case in English or Chinese"),
        max_chars=search.MAX_QUERY_CHARS,
        placeholder=_("e.g. detect fraud in card payments / 信用卡欺诈"),
        key=QUERY_KEY,
    )
    # Model servers the operator configured come first: a front end without local models uses them.
    served = [endpoints.endpoint_ref(e) for e in endpoints.endpoints_for(model_catalogue.EMBEDDINGS)]
    choices = served + [spec.hub_id for spec in models]
    found = model_state.availability_of([spec.hub_id for spec in models])

    def label(ref: str) -> str:
        # No "loaded" here: a label that changes once the model answers would lose the user's pick.
        mark = _(found[ref].mark) if ref in found else ""
        return f"{_model_label(ref)} · {mark}" if mark else _model_label(ref)

    model_ref = model_column.selectbox(
        _("Embedding model"),
        choices,
        index=0 if served else model_state.opening_choice(choices, found, EMBEDDING_MODEL_KEY),
        format_func=label,
        key=EMBEDDING_MODEL_KEY,
    )
    st.caption(_("Examples:"))
    example_columns = st.columns(_EXAMPLES_PER_ROW)
    languages = languages_by_ref.get(model_ref, ())
    for index, example in enumerate(search.EXAMPLE_QUERIES):
        example_columns[index % _EXAMPLES_PER_ROW].button(
            marked_example_label(example, _(example), languages),
            key=f"applications.example.{index}",
            on_click=_set_query,
            args=(_(example),),
            width="stretch",
        )
    return query.strip(), model_ref


def run_search(query: str, catalogue: Catalogue, model_ref: str) -> search.SearchResponse:
    """Search with the cached embedding model and embeddings (keyword fallback inside the backend)."""
    with st.spinner(_("Searching…")):
        return search.search_catalogue(
            query,
            catalogue,
            load_embedder=lambda: get_model(model_catalogue.EMBEDDINGS, model_ref),
            cache=embedding_cache(),
        )


def _results_table(response: search.SearchResponse, catalogue: Catalogue) -> pd.DataFrame:
    language = current_language()
    chinese = language == "zh"
    rows = []
    for hit in response.hits:
        use_case = catalogue.get(hit.use_case_id)
        demo = vocab.find_demo(use_case.demo_page)
        if response.mode == search.KEYWORD:
            matched = ", ".join(hit.matched_terms)
        else:
            matched = (
                _(_LANGUAGE_NAMES[hit.matched_language])
                if hit.matched_language in _LANGUAGE_NAMES
                else hit.matched_language
            )
        rows.append(
            {
                N_("rank"): hit.rank,
                N_("score"): hit.score,
                N_("industry"): vocab.find_term(vocab.INDUSTRIES, hit.industry).label(language),
                N_("use case"): hit.title_zh if chinese else hit.title_en,
                # The source documents' own title, for an English reader (see catalogue.to_table).
                **({} if chinese else {N_("use case (other language)"): hit.title_zh}),
                N_("matched"): matched,
                N_("description"): use_case.description_zh if chinese else use_case.description_en,
                N_("live demo"): _(demo.title) if demo else "",
            }
        )
    return pd.DataFrame(rows)


def show_search_response(response: search.SearchResponse, catalogue: Catalogue) -> None:
    """Which search ran, the fallback notice if any, and the ranked use cases with their scores."""
    if response.notice:
        st.warning(response.notice, icon=":material/cloud_off:")
    if response.mode == search.SEMANTIC:
        st.caption(
            _("Semantic search with {display_name}; score = cosine similarity (higher is closer).").format(
                display_name=plain_markdown(model_registry.display_name(response.model_ref))
            )
        )
        languages = model_registry.languages_of(model_catalogue.EMBEDDINGS, response.model_ref)
        notice = input_language.language_notice(response.query, languages, _("the ranking and its scores"))
        if notice:
            st.warning(notice, icon=":material/translate:")
    else:
        st.caption(_("Keyword search; score = weighted share of your words found (English words, Chinese bigrams)."))
    if not response.hits:
        st.info(
            _("No use case matches these words. Try other words, or an example above."), icon=":material/search_off:"
        )
        return
    st.dataframe(
        _results_table(response, catalogue).rename(columns=_),
        hide_index=True,
        column_config={_("score"): st.column_config.NumberColumn(format="%.3f")},
        key="applications.results",
    )
    show_demo_links(catalogue.get(hit.use_case_id) for hit in response.hits)
