"""Applications by industry: use cases named by the source documents, the AI tasks they need, which
use cases first (the prioritiser), what running them costs (the calculator), and search."""

import streamlit as st

from backend.decisions import scoring, speed
from backend.i18n import _, current_language
from backend.use_cases import catalogue, figures, matrix
from pages.components import prioritiser
from pages.components import use_cases as use_cases_view
from pages.components.errors import user_errors

st.title(_("Applications by industry"))
st.markdown(
    _(
        "Where the five Chinese source documents say large models are used today, or will be, with the AI "
        "tasks each use case needs and the live demo that shows it. Maturity is as the documents present it; "
        "they give no adoption figures (those are on **Market & adoption**)."
    )
)

use_case_catalogue = use_cases_view.load_catalogue_or_stop()
# Every input starts from the page address, so a shared link reproduces the view.
prioritiser.restore_state()
filters = use_cases_view.show_filters()
selected = catalogue.filter_use_cases(
    use_case_catalogue.use_cases, filters.industries, filters.tasks, filters.maturities
)
st.caption(
    _("{selected} of {use_case_catalogue} use cases match the filters.").format(
        selected=len(selected), use_case_catalogue=len(use_case_catalogue)
    )
)

st.subheader(_("Industries × AI tasks"))
task_matrix = matrix.build_task_matrix(selected, include_inferred=not filters.stated_only)
language = current_language()
st.plotly_chart(
    figures.build_heatmap(task_matrix, figures.use_case_titles(selected, language), language),
    key="applications.heatmap",
)
st.caption(
    _(
        "Each cell counts the use cases of an industry that need a task (hover for their names). Tasks are "
        "either named by the documents or mapped by the catalogue's editors to the nearest task; the switch "
        "above keeps only the named ones."
    )
)

st.subheader(_("Current and emerging applications"))
st.plotly_chart(
    figures.build_maturity_bars(matrix.maturity_counts(selected), language), key="applications.maturity_chart"
)
st.caption(
    _(
        "Current: at least one document presents the use case as an application today. Future: only as a "
        "prospect. Trend: only named as a trend. Documents often disagree (healthcare is current in three, "
        "a prospect in two), so the table lists every reference with its own status."
    )
)

st.subheader(_("Catalogue"))
if selected:
    st.dataframe(
        catalogue.to_table(selected, current_language()).rename(columns=_), hide_index=True, key="applications.table"
    )
    st.caption(_("Sources: document and line in the seed documents 000–004, with that document's status (C, F, T)."))
    st.markdown(_("**Live demos of these use cases**"))
    use_cases_view.show_demo_links(selected)
else:
    st.info(_("No use case matches these filters. Clear one to see more."), icon=":material/filter_alt_off:")

st.subheader(_("Which use cases first, and what would running them cost?"))
st.markdown(
    _(
        "Each use case above scored from its industry's cited adoption, growth and money flowing in, and the "
        "measured speed and memory of the demo model that does its tasks on this server. Set the weights; every "
        "input is cited or measured, and a missing one counts 0."
    )
)
weights = prioritiser.show_weights()
speed_figures = speed.speed_by_task()
titles = prioritiser.titles_of(selected, current_language())
ranking_tab, sensitivity_tab, cost_tab, measure_tab = st.tabs(
    [_("Ranking"), _("Sensitivity"), _("Cost and capacity"), _("Measure")]
)
ranking = None
with user_errors():
    ranking = scoring.rank_use_cases(selected, prioritiser.market_inputs(), speed_figures, weights)
if ranking is not None and ranking.rows:
    with ranking_tab:
        prioritiser.show_ranking(ranking)
    with sensitivity_tab:
        view = prioritiser.show_sensitivity(selected, speed_figures, weights, titles)
    with cost_tab:
        use_case_estimates, estimates = prioritiser.show_calculator(
            speed_figures, ranking, selected, current_language()
        )
    # The search box below keeps its text in the session from the last run, so its address is written here too.
    prioritiser.show_briefing(
        ranking, view, titles, use_case_estimates, estimates, prioritiser.save_state(prioritiser.defaults())
    )
elif ranking is not None:
    ranking_tab.info(_("No use case matches these filters. Clear one to see more."), icon=":material/filter_alt_off:")
with measure_tab:
    prioritiser.show_measure_action(ranking, selected, current_language())

if ranking is None or not ranking.rows:
    prioritiser.save_state(prioritiser.defaults())

st.subheader(_("Search the catalogue"))
query, model_ref = use_cases_view.show_search_box()
if query:
    with user_errors():
        response = use_cases_view.run_search(query, use_case_catalogue, model_ref)
        use_cases_view.show_search_response(response, use_case_catalogue)
else:
    st.caption(_("Search ranks use cases by meaning, so your words need not match the catalogue's."))
