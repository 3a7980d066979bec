"""Market chart widgets: the cached shipped data, and a chart with its sources and CSV download."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backend.market import store
from backend.market.style import source_markdown
from backend.uploads import to_safe_csv


@st.cache_data(show_spinner=False)
def market_data() -> pd.DataFrame:
    """The shipped market tables, validated once per process (raises ShowcaseError on a bad file)."""
    return store.load_market_data()


_NO_ROWS = "No figures match the current filters for this chart. Widen the filters above."


def show_chart(figure: go.Figure, rows: pd.DataFrame, key: str, file_name: str, empty_message: str = _NO_ROWS) -> None:
    """A chart, the sources of exactly the rows drawn, and those rows as CSV.

    Args:
        figure: built from ``rows`` by a ``backend.market.figures`` builder.
        rows: the rows drawn.
        key: widget key prefix, e.g. ``market.over_time``.
        file_name: the CSV's download name.
        empty_message: what to say instead of the chart when there are no rows.
    """
    if rows.empty:
        st.info(empty_message, icon=":material/filter_alt_off:")
        return
    st.plotly_chart(figure, key=f"{key}.chart", width="stretch")
    st.caption("**Sources**\n\n" + source_markdown(store.sources_of(rows)))
    st.download_button(
        "Download this chart's data (CSV)",
        data=to_safe_csv(rows),
        file_name=file_name,
        mime="text/csv",
        key=f"{key}.download",
        icon=":material/download:",
    )
