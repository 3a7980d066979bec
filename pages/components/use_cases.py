"""Widgets of the applications page: catalogue and embedding caches, filters, demo links, search results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from backend import input_language, model_registry
from backend.config import get_settings
from backend.errors import ShowcaseError
from backend.i18n import _
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

_QUERY_KEY = "applications.query"
# Semantic hits say which of the use case's two texts matched best.
_LANGUAGE_NAMES = {"en": "English text", "zh": "中文 text"}
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
        "Industry",
        vocab.term_keys(vocab.INDUSTRIES),
        format_func=lambda key: vocab.find_term(vocab.INDUSTRIES, key).en,
        placeholder="All industries",
        key="applications.industries",
    )
    tasks = columns[1].multiselect(
        "AI task",
        vocab.term_keys(vocab.AI_TASKS),
        format_func=lambda key: vocab.find_term(vocab.AI_TASKS, key).en,
        placeholder="All tasks",
        key="applications.tasks",
    )
    maturities = columns[2].multiselect(
        "Maturity (as the documents present it)",
        vocab.term_keys(vocab.MATURITY),
        format_func=lambda key: vocab.find_term(vocab.MATURITY, key).en,
        placeholder="Current, future and trend",
        key="applications.maturity",
    )
    stated_only = st.toggle(
        "Count only tasks the documents name (leave out tasks mapped by the catalogue's editors)",
        key="applications.stated_only",
    )
    return Filters(tuple(industries), tuple(tasks), tuple(maturities), stated_only)


def _registered_paths() -> set[str]:
    return {page.path for page in PAGES}


def show_demo_links(use_cases: Iterable[UseCase]) -> None:
    """One link per live demo that shows some of these use cases, with the use cases it shows."""
    shown: dict[str, list[str]] = {}
    for use_case in use_cases:
        if use_case.demo_page:
            shown.setdefault(use_case.demo_page, []).append(use_case.title_en)
    if not shown:
        st.caption("None of these use cases has a live demo in this app yet.")
        return
    registered = _registered_paths()
    for demo in vocab.DEMO_PAGES:
        if demo.path not in shown:
            continue
        titles = ", ".join(shown[demo.path])
        if demo.path in registered:
            st.page_link(demo.path, label=f"{demo.title}: {demo.shows}", icon=":material/play_circle:")
        else:
            st.markdown(f":material/schedule: **{demo.title}** (coming soon): {demo.shows}")
        st.caption(f"Shows: {titles}")


def _set_query(text: str) -> None:
    st.session_state[_QUERY_KEY] = text


def _model_label(ref: str) -> str:
    spec = model_catalogue.find_spec(ref)
    return spec.title if spec else model_registry.display_name(ref)


def show_search_box() -> tuple[str, str]:
    """The query box, example queries and the embedding-model picker: ``(query, model_ref)``."""
    models = model_catalogue.models_for(model_catalogue.EMBEDDINGS)
    query_column, model_column = st.columns([3, 1])
    languages_by_ref = {spec.hub_id: spec.languages for spec in models}
    query = query_column.text_input(
        "Describe a use case in English or Chinese",
        max_chars=search.MAX_QUERY_CHARS,
        placeholder="e.g. detect fraud in card payments / 信用卡欺诈",
        key=_QUERY_KEY,
    )
    # Model servers the operator configured come first: a front end without local models uses them.
    served = [endpoints.endpoint_ref(e) for e in endpoints.endpoints_for(model_catalogue.EMBEDDINGS)]
    choices = served + [spec.hub_id for spec in models]
    found = model_state.availability_of([spec.hub_id for spec in models])

    def label(ref: str) -> str:
        # No "loaded" here: a label that changes once the model answers would lose the user's pick.
        mark = found[ref].mark if ref in found else ""
        return f"{_model_label(ref)} · {mark}" if mark else _model_label(ref)

    model_ref = model_column.selectbox(
        "Embedding model",
        choices,
        index=0 if served else model_state.opening_choice(choices, found, "applications.model"),
        format_func=label,
        key="applications.model",
    )
    st.caption("Examples:")
    example_columns = st.columns(_EXAMPLES_PER_ROW)
    languages = languages_by_ref.get(model_ref, ())
    for index, example in enumerate(search.EXAMPLE_QUERIES):
        example_columns[index % _EXAMPLES_PER_ROW].button(
            marked_example_label(example, example, languages),
            key=f"applications.example.{index}",
            on_click=_set_query,
            args=(example,),
            width="stretch",
        )
    return query.strip(), model_ref


def run_search(query: str, catalogue: Catalogue, model_ref: str) -> search.SearchResponse:
    """Search with the cached embedding model and embeddings (keyword fallback inside the backend)."""
    with st.spinner("Searching…"):
        return search.search_catalogue(
            query,
            catalogue,
            load_embedder=lambda: get_model(model_catalogue.EMBEDDINGS, model_ref),
            cache=embedding_cache(),
        )


def _results_table(response: search.SearchResponse, catalogue: Catalogue) -> pd.DataFrame:
    rows = []
    for hit in response.hits:
        use_case = catalogue.get(hit.use_case_id)
        demo = vocab.find_demo(use_case.demo_page)
        if response.mode == search.KEYWORD:
            matched = ", ".join(hit.matched_terms)
        else:
            matched = _LANGUAGE_NAMES.get(hit.matched_language, hit.matched_language)
        rows.append(
            {
                "rank": hit.rank,
                "score": hit.score,
                "industry": vocab.find_term(vocab.INDUSTRIES, hit.industry).en,
                "use case": hit.title_en,
                "用例": hit.title_zh,
                "matched": matched,
                "description": use_case.description_en,
                "live demo": demo.title if demo else "",
            }
        )
    return pd.DataFrame(rows)


def show_search_response(response: search.SearchResponse, catalogue: Catalogue) -> None:
    """Which search ran, the fallback notice if any, and the ranked use cases with their scores."""
    if response.notice:
        st.warning(response.notice, icon=":material/cloud_off:")
    if response.mode == search.SEMANTIC:
        st.caption(
            f"Semantic search with {plain_markdown(model_registry.display_name(response.model_ref))}; score = cosine similarity (higher is closer)."
        )
        languages = model_registry.languages_of(model_catalogue.EMBEDDINGS, response.model_ref)
        notice = input_language.language_notice(response.query, languages, _("the ranking and its scores"))
        if notice:
            st.warning(notice, icon=":material/translate:")
    else:
        st.caption("Keyword search; score = weighted share of your words found (English words, Chinese bigrams).")
    if not response.hits:
        st.info("No use case matches these words. Try other words, or an example above.", icon=":material/search_off:")
        return
    st.dataframe(
        _results_table(response, catalogue),
        hide_index=True,
        column_config={"score": st.column_config.NumberColumn(format="%.3f")},
        key="applications.results",
    )
    show_demo_links(catalogue.get(hit.use_case_id) for hit in response.hits)
