"""Your market data: upload a table, map its columns, see row-level problems, chart it."""

import streamlit as st

from backend import uploads
from backend.market import figures, mapping, schema, selections
from backend.market.series_labels import measure_group
from backend.text_safety import plain_markdown
from pages.components.errors import user_errors
from pages.components.market_charts import market_data, show_chart
from pages.components.market_upload import show_column_mapping, show_validation
from pages.components.upload import show_table_upload

st.title("Your market data")
st.caption(
    "Chart your own market table (CSV or XLSX) for an internal review, beside or instead of the "
    "built-in figures. It stays in this browser session: nothing you upload is saved."
)

with st.expander("Table format and template", icon=":material/table:"):
    st.markdown(
        "One value per row, with its source. Use these column names, or upload any table and map "
        "your columns below. Required columns are starred when mapping; `source_url` is optional here."
    )
    st.dataframe(
        [{"column": name, "meaning": meaning} for name, meaning in schema.COLUMN_HELP.items()],
        hide_index=True,
        width="stretch",
        key="your_data.columns",
    )
    with user_errors():
        st.download_button(
            "Download a template (CSV, three built-in rows)",
            data=uploads.to_safe_csv(selections.adoption_over_time(market_data()).head(3)),
            file_name="market_table_template.csv",
            mime="text/csv",
            key="your_data.template",
            icon=":material/download:",
        )

uploaded = show_table_upload(
    "your_data.file",
    "Your market table",
    help="UTF-8 or GB18030 text.",
    empty_message="Upload a table to start. The template above shows the expected columns.",
)
if uploaded is None:
    st.stop()
table = uploaded.frame
st.caption(f"{plain_markdown(uploaded.name)}: {len(table):,} rows, {len(table.columns)} columns.")

user_columns = list(table.columns)
column_map = None
if mapping.needs_mapping(user_columns):
    source = st.text_input(
        "Where these figures come from",
        value=uploaded.name.rsplit(".", 1)[0],
        max_chars=120,
        key="your_data.source",
        help="A survey, a report or a team: it names the series and the source list.",
    )
    quick = mapping.quick_columns(user_columns, source, uploaded.name)
    if quick is not None and not st.toggle("Map every column myself", key="your_data.full_mapping"):
        column_map = quick
        st.caption(
            "Read as segment (or country), year and value; everything else has a default "
            "(verification primary, unit percent when the value column says %). Switch on the toggle to change them."
        )
    else:
        st.subheader("Map your columns")
        st.caption("Pick the column that holds each field, or type a value that applies to every row.")
        column_map = show_column_mapping(user_columns, "your_data")
else:
    column_map = mapping.suggest_mapping(user_columns)

result = None
with user_errors():
    mapped = mapping.apply_mapping(table, column_map, require_url=False)
    result = schema.validate_table(mapped, require_url=False)
if result is None:
    st.stop()

st.subheader("Validation")
show_validation(result)
if result.rows.empty:
    st.stop()

st.subheader("Charts")
view = st.segmented_control(
    "Show", ["Only your data", "Beside the built-in figures"], default="Only your data", key="your_data.view"
)
builtin = None
if view == "Beside the built-in figures":
    with user_errors():
        builtin = market_data()

over_time = selections.your_data_over_time(result.rows, builtin)
show_chart(
    figures.build_time_series(
        over_time,
        "Your data over time",
        "One line per segment measured in several years; built-in figures in their own panel",
        panel_of=measure_group if builtin is not None else None,
    ),
    over_time,
    "your_data.over_time",
    "your_data_over_time.csv",
    empty_message="No segment of your table has two or more years, so there is no line to draw; the bars below show it.",
)
by_segment = selections.your_data_by_segment(result.rows, builtin)
show_chart(
    figures.build_segment_bars(by_segment, "Your data by segment"),
    by_segment,
    "your_data.by_segment",
    "your_data_by_segment.csv",
    empty_message="Your table has no breakdown rows (a segment other than 'All').",
)
