"""Market chart widgets: the cached shipped data, a chart with its sources, caveats and downloads,
and the filters kept in the page address so a link reproduces the view."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend.config import get_settings
from backend.i18n import N_, _
from backend.market import store
from backend.market.briefing import BriefingChart, reproduce_link
from backend.market.figure_layout import png_config, with_source_caption
from backend.market.series_labels import exported_rows, source_markdown
from backend.uploads import to_safe_csv


@st.cache_data(show_spinner=False)
def market_data() -> pd.DataFrame:
    """The shipped market tables, validated once per process (raises ShowcaseError on a bad file)."""
    return store.load_market_data()


_NO_ROWS = N_("No figures match the current filters for this chart. Widen the filters above.")


def show_chart(
    figure: go.Figure, rows: pd.DataFrame, key: str, file_name: str, empty_message: str = _NO_ROWS
) -> BriefingChart | None:
    """A chart (with its source caption inside, for PNG export), its sources and caveats, and its rows as CSV.

    Args:
        figure: built from ``rows`` by a ``backend.market`` figure builder.
        rows: the rows drawn.
        key: widget key prefix, e.g. ``market.over_time``.
        file_name: the CSV's download name (the PNG takes the same stem).
        empty_message: what to say instead of the chart when there are no rows.

    Returns:
        The chart as shown, with its sources, for the briefing; None when nothing was drawn.
    """
    if rows.empty:
        st.info(_(empty_message), icon=":material/filter_alt_off:")
        return None
    captioned = with_source_caption(figure, rows)
    st.plotly_chart(captioned, key=f"{key}.chart", width="stretch", config=png_config(file_name))
    sources = store.sources_of(rows)
    # Folded: the chart and its caption fit a screen; the full citations are one click away.
    with st.expander(_("Sources and caveats ({sources})").format(sources=len(sources)), icon=":material/menu_book:"):
        st.caption(source_markdown(sources))
    st.download_button(
        _("Download this chart's data (CSV)"),
        data=to_safe_csv(exported_rows(rows)),
        file_name=file_name,
        mime="text/csv",
        key=f"{key}.download",
        icon=":material/download:",
    )
    return BriefingChart.of(captioned, sources, len(rows), fallback=file_name)


# Widget key -> query-string name. Lists repeat the name (?source=a&source=b); years are "2017-2025".
QUERY_NAMES: dict[str, str] = {
    "market.datasets": "source",
    "market.geographies": "geo",
    "market.segments": "segment",
    "market.years": "years",
    "market.breakdown": "breakdown",
    "market.model_metric": "model",
    "market.model_countries": "developer",
}


def restore_filters(choices: dict[str, tuple[str, ...] | tuple[int, int]]) -> None:
    """Set each filter widget's starting value from the page address (once per session).

    Args:
        choices: widget key -> the values it offers (years: the allowed (min, max)). A value in the
            address that the widget does not offer is dropped, so a link cannot inject anything.
    """
    params = st.query_params
    for key, name in QUERY_NAMES.items():
        if key in st.session_state or key not in choices or name not in params:
            continue
        allowed = choices[key]
        if key == "market.years":
            low, high = _years(params.get(name, ""), allowed)
            if low is not None:
                st.session_state[key] = (low, high)
        elif key in ("market.breakdown", "market.model_metric"):
            value = params.get(name, "")
            if value in allowed:
                st.session_state[key] = value
        else:
            st.session_state[key] = [v for v in params.get_all(name) if v in allowed]


def _years(text: str, allowed: tuple) -> tuple[int | None, int | None]:
    try:
        low, high = (int(part) for part in str(text).split("-", 1))
    except ValueError:
        return None, None
    low, high = max(low, allowed[0]), min(high, allowed[1])
    return (low, high) if low <= high else (None, None)


def save_filters(defaults: dict[str, object]) -> str:
    """Write the current filters into the page address; returns the query string ("" for defaults).

    Args:
        defaults: widget key -> its default value; a filter at its default is left out of the address.
    """
    wanted: dict[str, object] = {}
    for key, name in QUERY_NAMES.items():
        value = st.session_state.get(key)
        if value is None or value == defaults.get(key) or value == [] or key not in defaults:
            continue
        wanted[name] = f"{value[0]}-{value[1]}" if key == "market.years" else value
    current = {name: st.query_params.get_all(name) for name in QUERY_NAMES.values() if name in st.query_params}
    target = {name: value if isinstance(value, list) else [str(value)] for name, value in wanted.items()}
    if current != target:
        for name in QUERY_NAMES.values():
            if name in st.query_params and name not in target:
                del st.query_params[name]
        for name, values in target.items():
            st.query_params[name] = values
    return urlencode({name: values for name, values in target.items()}, doseq=True)


def page_link(query: str) -> str:
    """The address of this page with ``query``: on the app's public address (``public_url``
    setting) when the operator set one, else the address this browser used."""
    return reproduce_link(get_settings().public_url, str(getattr(st.context, "url", "") or ""), query)


def briefing_download(charts: list[BriefingChart], build: Callable[[list[BriefingChart]], str], key: str) -> None:
    """One button that downloads the briefing of ``charts``; the HTML is built only when clicked."""
    st.download_button(
        _("Download briefing (HTML, self-contained)"),
        data=lambda: build(charts),
        file_name="ai_market_briefing.html",
        mime="text/html",
        key=key,
        icon=":material/description:",
        type="primary",
        disabled=not charts,
        on_click="ignore",
    )
