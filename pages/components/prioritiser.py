"""Widgets of the use-case prioritiser and the cost calculator (Applications page): weights, the
ranked table, the sensitivity chart, the calculator, the "measure this use case" job, the briefing.

Every input of the Applications page lives in its address (``?industry=finance&wa=3&sens=growth
&price=0.4&q=fraud...``; lists repeat the name), so a shared link reproduces the filters, the
ranking, the costs and the search; a value in the address that a widget does not offer is dropped. Figures are read at each run: a measurement finished a moment ago counts at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import streamlit as st

from backend import model_registry
from backend.decisions import cost, industry_inputs, measure, review, scoring, speed
from backend.decisions.scoring import CRITERIA, CRITERION_LABELS, Weights
from backend.i18n import _, current_language
from backend.jobs import manage, tables
from backend.market import briefing
from backend.market.figure_layout import png_config
from backend.models.resolve import catalogue as models
from backend.models.resolve import endpoints
from backend.text_safety import plain_markdown
from backend.use_cases import search
from backend.use_cases import vocabulary as vocab
from backend.use_cases.catalogue import UseCase
from pages.components import demo, job_monitor, market_charts
from pages.components import use_cases as use_cases_view
from pages.components.auth import current_owner
from pages.components.errors import user_errors

KEY = "applications.prioritiser"
MEASURE_KEY = f"{KEY}.measure_use_case"
# Widget key -> name in the page address (the filters and the search box are pages.components.use_cases').
QUERY_NAMES: dict[str, str] = {
    use_cases_view.INDUSTRIES_KEY: "industry",
    use_cases_view.TASKS_KEY: "task",
    use_cases_view.MATURITY_KEY: "maturity",
    use_cases_view.STATED_ONLY_KEY: "stated",
    **{f"{KEY}.weight.{criterion}": f"w{criterion[0]}" for criterion in CRITERIA},
    f"{KEY}.sensitivity": "sens",
    f"{KEY}.price": "price",
    f"{KEY}.demand": "demand",
    f"{KEY}.hardware": "hw",
    MEASURE_KEY: "measure",
    **{f"{KEY}.measure_model.{task}": f"model-{task}" for task in measure.MEASURED_TASKS},
    use_cases_view.QUERY_KEY: "q",
    use_cases_view.EMBEDDING_MODEL_KEY: "search-model",
}
# Address name -> the task whose catalogue models and configured servers it may name (never a
# fine-tuned model: its reference is a server path, which stays out of links).
_MODEL_TASKS = {
    **{f"model-{task}": task for task in measure.MEASURED_TASKS},
    "search-model": models.EMBEDDINGS,
}
# Multiselects: each offers the keys of one vocabulary.
_LIST_CHOICES = {"industry": vocab.INDUSTRIES, "task": vocab.AI_TASKS, "maturity": vocab.MATURITY}
NO_ESTIMATE = ""
ESTIMATE_HARDWARE: tuple[str, ...] = (NO_ESTIMATE, "NVIDIA T4", "NVIDIA L4", "NVIDIA A100", "NVIDIA H100")
_DEFAULT_PRICE = 0.40


@st.cache_data(show_spinner=False)
def _market_inputs_in(language: str) -> dict[str, industry_inputs.IndustryInputs]:
    # One copy per language: the inputs' units, sources and caveats are written in the reader's words.
    return industry_inputs.industry_inputs(market_charts.market_data())


def market_inputs() -> dict[str, industry_inputs.IndustryInputs]:
    """Each industry's cited market inputs (the shipped tables do not change while the app runs)."""
    return _market_inputs_in(current_language())


def _parsed(name: str, text: str) -> object | None:
    try:
        if name in _MODEL_TASKS:
            task = _MODEL_TASKS[name]
            if endpoints.is_endpoint_ref(text):
                return text if (served := endpoints.find_endpoint(text)) and served.task == task else None
            return text if models.find_spec(text, task) else None
        if name == "stated":
            return {"1": True, "0": False}.get(text)
        if name == "q":
            # A search query as the box would take it: no control characters, no longer than it allows.
            return text if len(text) <= search.MAX_QUERY_CHARS and text.isprintable() else None
        if name == "measure":
            # Whether the use case runs here is checked where its picker is drawn (show_measure_action).
            return text if text.replace("-", "").replace("_", "").isalnum() else None
        if name.startswith("w"):
            value = int(text)
            return value if scoring.WEIGHT_RANGE[0] <= value <= scoring.WEIGHT_RANGE[1] else None
        if name == "sens":
            return text if text in CRITERIA else None
        if name == "price":
            return cost.check_price(float(text))
        if name == "demand":
            value = int(text)
            return value if 0 <= value <= cost.MAX_DEMAND_PER_HOUR else None
        return text if text in ESTIMATE_HARDWARE else None
    except (ValueError, TypeError, cost.InvalidInputError):
        return None


def restore_state() -> None:
    """Start each widget from the page address (once per session), dropping values it does not offer."""
    for key, name in QUERY_NAMES.items():
        if key in st.session_state or name not in st.query_params:
            continue
        if name in _LIST_CHOICES:
            offered = vocab.term_keys(_LIST_CHOICES[name])
            st.session_state[key] = list(dict.fromkeys(v for v in st.query_params.get_all(name) if v in offered))
            continue
        value = _parsed(name, st.query_params.get(name, ""))
        if value is not None:
            st.session_state[key] = value


def _address_text(value: object) -> str | list[str]:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return str(value)


def save_state(defaults: dict[str, object]) -> str:
    """Write the choices that differ from their defaults into the address; returns that query."""
    wanted = {
        name: _address_text(st.session_state[key])
        for key, name in QUERY_NAMES.items()
        if key in st.session_state and st.session_state[key] != defaults.get(key)
    }
    # Only what a link may restore goes into it (a fine-tuned model's server path does not).
    wanted = {name: text for name, text in wanted.items() if name in _LIST_CHOICES or _parsed(name, text) is not None}
    for name in QUERY_NAMES.values():
        if name in wanted and st.query_params.get_all(name) != _as_list(wanted[name]):
            st.query_params[name] = wanted[name]
        elif name not in wanted and name in st.query_params:
            del st.query_params[name]
    return urlencode(wanted, doseq=True)


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def show_weights() -> Weights:
    """One slider per criterion; returns the weights."""
    columns = st.columns(len(CRITERIA))
    values = {}
    for column, criterion in zip(columns, CRITERIA, strict=True):
        with column:
            values[criterion] = st.slider(
                _(CRITERION_LABELS[criterion]),
                *scoring.WEIGHT_RANGE,
                value=Weights().of(criterion),
                key=f"{KEY}.weight.{criterion}",
            )
    return Weights(**values)


def defaults() -> dict[str, object]:
    """Each widget's starting value (left out of the address)."""
    return {
        use_cases_view.INDUSTRIES_KEY: [],
        use_cases_view.TASKS_KEY: [],
        use_cases_view.MATURITY_KEY: [],
        use_cases_view.STATED_ONLY_KEY: False,
        use_cases_view.QUERY_KEY: "",
        **{f"{KEY}.weight.{c}": Weights().of(c) for c in CRITERIA},
        f"{KEY}.sensitivity": CRITERIA[-1],
        f"{KEY}.price": _DEFAULT_PRICE,
        f"{KEY}.demand": 0,
        f"{KEY}.hardware": NO_ESTIMATE,
        **{f"{KEY}.measure_model.{task}": models.default_model(task).hub_id for task in measure.MEASURED_TASKS},
        use_cases_view.EMBEDDING_MODEL_KEY: models.default_model(models.EMBEDDINGS).hub_id,
    }


def show_ranking(ranking: scoring.Ranking) -> None:
    """The ranking chart (PNG export keeps its weights), the full table, and every citation."""
    st.plotly_chart(
        review.build_ranking_chart(ranking), key=f"{KEY}.ranking_chart", width="stretch",
        config=png_config("use_case_ranking.png"),
    )  # fmt: skip
    st.dataframe(review.ranking_table(ranking), hide_index=True, key=f"{KEY}.ranking_table", height=320)
    st.caption(
        _(
            "Normalisation: market inputs min-max over the industries with the figure (lowest 0, highest 1); "
            "feasibility is the mean of latency and memory (log-scale min-max, best 1) and CPU-only (1 or 0); "
            "a missing input counts 0. Score = weighted mean x 100."
        )
    )
    with st.expander(_("Market inputs each industry lacks, and why"), icon=":material/help:"):
        industries = [row.industry for row in ranking.rows]
        st.dataframe(
            review.market_inputs_table(market_inputs(), industries), hide_index=True, key=f"{KEY}.market_inputs"
        )
        st.caption(
            _(
                "Only figures that compare across industries are used: one survey's share of firms for adoption, "
                "change in that share per year for growth, one forecast's spending growth for money flowing in."
            )
        )
    cited = review.citations(ranking)
    with st.expander(_("Sources and measurements ({n})").format(n=len(cited)), icon=":material/menu_book:"):
        for label, url in cited:
            st.text(f"{label} {url}".strip())


def show_sensitivity(use_cases: tuple[UseCase, ...], speed_figures, weights: Weights, titles) -> scoring.Sensitivity:
    """Pick a weight; the chart shows the top five's ranks as it moves 0-10."""
    criterion = st.selectbox(
        _("Move the weight of"),
        CRITERIA,
        index=len(CRITERIA) - 1,
        format_func=lambda c: _(CRITERION_LABELS[c]),
        key=f"{KEY}.sensitivity",
    )
    view = scoring.sensitivity(use_cases, market_inputs(), speed_figures, weights, criterion)
    st.plotly_chart(
        review.build_sensitivity_chart(view, titles), key=f"{KEY}.sensitivity_chart", width="stretch",
        config=png_config("use_case_sensitivity.png"),
    )  # fmt: skip
    with st.expander(_("The top five at each weight"), icon=":material/table_rows:"):
        st.dataframe(review.sensitivity_table(view, titles), hide_index=True, key=f"{KEY}.sensitivity_table")
    return view


def use_case_records(
    ranking: scoring.Ranking, use_cases: tuple[UseCase, ...], records: dict[str, speed.SpeedRecord], language: str
) -> list[speed.SpeedRecord]:
    """The figure of each of the top-ranked use cases whose tasks all have one, in rank order."""
    by_id = {use_case.id: use_case for use_case in use_cases}
    found = []
    for row in ranking.rows[: review.TOP_SHOWN]:
        tasks = scoring.model_tasks_of(by_id[row.use_case_id])
        if tasks and all(task in records for task in tasks):
            found.append(speed.combined_record(row.title(language), [records[task] for task in tasks]))
    return found


def show_calculator(
    speed_figures: dict[str, speed.SpeedRecord],
    ranking: scoring.Ranking,
    use_cases: tuple[UseCase, ...],
    language: str,
) -> tuple[list[cost.CostEstimate], list[cost.CostEstimate]]:
    """Price, demand and (optionally) hardware not at hand; the cost of the top-ranked use cases
    that can run here, and of each task model, as tables and a chart; returns both lists."""
    left, middle, right = st.columns(3)
    with left:
        price = st.number_input(
            _("Price per machine-hour"), min_value=0.0, max_value=cost.MAX_PRICE_PER_HOUR, value=_DEFAULT_PRICE,
            step=0.05, format="%.2f", key=f"{KEY}.price",
        )  # fmt: skip
    with middle:
        demand = st.number_input(
            _("Requests per hour to serve"), min_value=0, max_value=cost.MAX_DEMAND_PER_HOUR, value=0, step=1000,
            key=f"{KEY}.demand",
        )  # fmt: skip
    with right:
        hardware = st.selectbox(
            _("Estimate for hardware not at hand"), ESTIMATE_HARDWARE, key=f"{KEY}.hardware",
            format_func=lambda name: name or _("none (figures as measured)"),
        )  # fmt: skip
    records = list(speed_figures.values())
    if hardware:
        estimated = [speed.estimate_on(record, hardware) for record in records]
        skipped = [r.task for r, e in zip(records, estimated, strict=True) if e is None]
        records = [e for e in estimated if e is not None]
        if skipped:
            st.info(
                _("No estimate for {tasks}: their figure has no bandwidth reading (measure them here first).").format(
                    tasks=", ".join(skipped)
                ),
                icon=":material/info:",
            )
    estimates: list[cost.CostEstimate] = []
    per_use_case: list[cost.CostEstimate] = []
    with user_errors():
        estimates = [cost.cost_of(record, price, int(demand)) for record in records]
        by_task = {record.task: record for record in records}
        per_use_case = [
            cost.cost_of(record, price, int(demand))
            for record in use_case_records(ranking, use_cases, by_task, language)
        ]
    if per_use_case:
        st.markdown(_("**The top-ranked use cases that run here**"))
        st.dataframe(review.cost_table(per_use_case), hide_index=True, key=f"{KEY}.use_case_cost_table")
    if estimates:
        st.markdown(_("**Each task model**"))
        st.dataframe(review.cost_table(estimates), hide_index=True, key=f"{KEY}.cost_table")
        st.plotly_chart(
            review.build_cost_chart(estimates), key=f"{KEY}.cost_chart", width="stretch",
            config=png_config("use_case_costs.png"),
        )  # fmt: skip
        st.caption(
            _(
                "Requests per hour = throughput x 3,600 (one request at a time); cost per 1,000 = price / requests "
                "per hour x 1,000; machines = demand / requests per hour, rounded up. Estimates scale a figure by "
                "memory bandwidth (data sheet) and are marked as such."
            )
        )
    else:
        st.info(_("No speed figure yet: measure a use case below."), icon=":material/speed:")
    return per_use_case, estimates


def show_measure_action(ranking: scoring.Ranking | None, use_cases: tuple[UseCase, ...], language: str) -> None:
    """Pick a use case that runs here (top-ranked first), queue a measurement of each of its tasks'
    models, and follow the newest one live."""
    by_id = {use_case.id: use_case for use_case in use_cases}
    order = [row.use_case_id for row in ranking.rows] if ranking else list(by_id)
    runnable = {key: tasks for key in order if (tasks := scoring.model_tasks_of(by_id[key]))}
    if not runnable:
        st.info(_("None of these use cases has a demo model for all its tasks."), icon=":material/filter_alt_off:")
        return
    if st.session_state.get(MEASURE_KEY) not in runnable:
        # From an old link or hidden by a filter: start from the top-ranked one instead.
        st.session_state.pop(MEASURE_KEY, None)
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    with left:
        use_case_id = st.selectbox(
            _("Use case to measure"), list(runnable), format_func=lambda key: by_id[key].title(language),
            key=MEASURE_KEY,
        )  # fmt: skip
    with right:
        clicked = st.button(_("Measure this use case"), key=f"{KEY}.measure", icon=":material/speed:")
    picked = _pick_measured_models(runnable[use_case_id])
    requests = [measure.MeasureRequest(task, model_ref, use_case_id) for task, (model_ref, _label) in picked.items()]
    st.caption(
        _("Runs {models} on a fixed set of inputs in the background, one request at a time.").format(
            models=", ".join(f"{label} ({task})" for task, (_ref, label) in picked.items())
        )
    )
    if clicked:
        with user_errors():
            for request in requests:
                measure.submit_measure_job(request, owner=current_owner())
            job_monitor.start_worker_if_needed()
    jobs: list = []
    with user_errors():
        jobs = measure.list_measure_jobs(current_owner())
    if not jobs:
        return
    newest = jobs[0]
    if newest.is_finished:
        if newest.status == "failed":
            st.error(plain_markdown(newest.error or _("The measurement failed.")), icon=":material/error:")
        else:
            st.success(_("Last measurement: {title}, {status}.").format(title=newest.title, status=newest.status),
                       icon=":material/check_circle:")  # fmt: skip
    else:
        job_monitor.show_live(newest.id, f"{KEY}.measure", _show_measure_status, _("Cancel"), _("Cancelling."))


def _pick_measured_models(tasks: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """One model picker per task (catalogue models, the user's fine-tuned ones, configured model
    servers), opening on the task's default model; task -> (model reference, its label)."""
    picked = {}
    columns = st.columns(len(tasks))
    for column, task in zip(columns, tasks, strict=True):
        labels, _found = demo.model_choices(task, models.models_for(task))
        choices = list(labels)
        default = models.default_model(task).hub_id
        if st.session_state.get(f"{KEY}.measure_model.{task}", default) not in choices:
            # From a link to a server this app no longer has: open on the default instead.
            st.session_state.pop(f"{KEY}.measure_model.{task}")
        with column:
            choice = st.selectbox(
                _("Model for {task}").format(task=task), choices,
                index=choices.index(default) if default in choices else 0,
                format_func=labels.__getitem__, key=f"{KEY}.measure_model.{task}",
            )  # fmt: skip
        # The caption names the model alone (a hub id, a fine-tuned model's title, a server's name), not its label's marks.
        picked[task] = (choice, model_registry.display_name(choice))
    return picked


def _show_measure_status(view: manage.JobView) -> None:
    job = view.job
    if job.status == "queued":
        job_monitor.show_queue_wait(view, _("Waiting for the worker: {ahead}."))
    elif job.total_steps:
        st.progress(job.progress, text=tables.progress_text(job))
    else:
        st.progress(0.0, text=_("Loading the model…"))


def show_briefing(
    ranking: scoring.Ranking,
    view: scoring.Sensitivity,
    titles: dict[str, str],
    use_case_estimates: list[cost.CostEstimate],
    estimates: list[cost.CostEstimate],
    query: str,
) -> None:
    """The HTML briefing of the ranking, its weights, the sensitivity view and the cost table."""
    charts = [
        briefing.BriefingChart(_("Use cases ranked"), review.build_ranking_chart(ranking)),
        briefing.BriefingChart(_("Sensitivity"), review.build_sensitivity_chart(view, titles)),
    ]
    if estimates:
        charts.append(briefing.BriefingChart(_("Cost per 1,000 requests"), review.build_cost_chart(estimates)))

    def build() -> str:
        return briefing.build_briefing_html(
            charts,
            generated=datetime.now(UTC),
            filters=review.weights_text(ranking.weights),
            link=market_charts.page_link(query),
            title=_("Which AI use cases first, and what they cost"),
            tables=review.briefing_tables(ranking, view, titles, use_case_estimates + estimates),
        )

    st.download_button(
        _("Download briefing (HTML, self-contained)"), data=build, file_name="use_case_priorities.html",
        mime="text/html", key=f"{KEY}.briefing", icon=":material/description:", on_click="ignore",
    )  # fmt: skip


def titles_of(use_cases: tuple[UseCase, ...], language: str) -> dict[str, str]:
    """Use-case id -> title in ``language``."""
    return {use_case.id: use_case.title(language) for use_case in use_cases}
