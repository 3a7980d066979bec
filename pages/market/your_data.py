"""Your market data: upload a table, map its columns, see row-level problems, chart it."""

import streamlit as st

from backend import uploads
from backend.i18n import N_, _
from backend.market import figures, mapping, schema, selections
from backend.market.series_labels import measure_group
from backend.text_safety import plain_markdown
from pages.components.errors import user_errors
from pages.components.market_charts import market_data, show_chart
from pages.components.market_upload import show_column_mapping, show_validation
from pages.components.upload import show_table_upload

st.title(_("Your market data"))
st.caption(
    _(
        "Chart your own market table (CSV or XLSX) for an internal review, beside or instead of the "
        "built-in figures. It stays in this browser session: nothing you upload is saved."
    )
)

with st.expander(_("Table format and template"), icon=":material/table:"):
    st.markdown(
        _(
            "One value per row, with its source. Use these column names, or upload any table and map "
            "your columns below. Required columns are starred when mapping; `source_url` is optional here."
        )
    )
    st.dataframe(
        [{_("column"): name, _("meaning"): _(meaning)} for name, meaning in schema.COLUMN_HELP.items()],
        hide_index=True,
        width="stretch",
        key="your_data.columns",
    )
    with user_errors():
        st.download_button(
            _("Download a template (CSV, three built-in rows)"),
            data=uploads.to_safe_csv(selections.adoption_over_time(market_data()).head(3)),
            file_name="market_table_template.csv",
            mime="text/csv",
            key="your_data.template",
            icon=":material/download:",
        )

uploaded = show_table_upload(
    "your_data.file",
    _("Your market table"),
    help=_("UTF-8 or GB18030 text."),
    empty_message=_("Upload a table to start. The template above shows the expected columns."),
)
if uploaded is None:
    st.stop()
table = uploaded.frame
st.caption(
    _("{name}: {table:,} rows, {columns} columns.").format(
        name=plain_markdown(uploaded.name), table=len(table), columns=len(table.columns)
    )
)

user_columns = list(table.columns)
column_map = None
if mapping.needs_mapping(user_columns):
    source = st.text_input(
        _("Where these figures come from"),
        value=uploaded.name.rsplit(".", 1)[0],
        max_chars=120,
        key="your_data.source",
        help=_("A survey, a report or a team: it names the series and the source list."),
    )
    quick = mapping.quick_columns(user_columns, source, uploaded.name)
    if quick is not None and not st.toggle(_("Map every column myself"), key="your_data.full_mapping"):
        column_map = quick
        st.caption(
            _(
                "Read as segment (or country), year and value; everything else has a default "
                "(verification primary, unit percent when the value column says %). Switch on the toggle to change them."
            )
        )
    else:
        st.subheader(_("Map your columns"))
        st.caption(_("Pick the column that holds each field, or type a value that applies to every row."))
        column_map = show_column_mapping(user_columns, "your_data")
else:
    column_map = mapping.suggest_mapping(user_columns)

result = None
with user_errors():
    mapped = mapping.apply_mapping(table, column_map, require_url=False)
    result = schema.validate_table(mapped, require_url=False)
if result is None:
    st.stop()

st.subheader(_("Validation"))
show_validation(result)
if result.rows.empty:
    st.stop()

st.subheader(_("Charts"))
# The view's stable values, with their labels (shown translated).
VIEWS = {"only": N_("Only your data"), "beside": N_("Beside the built-in figures")}
view = st.segmented_control(
    _("Show"), list(VIEWS), format_func=lambda view: _(VIEWS[view]), default="only", key="your_data.view"
)
builtin = None
if view == "beside":
    with user_errors():
        builtin = market_data()

over_time = selections.your_data_over_time(result.rows, builtin)
show_chart(
    figures.build_time_series(
        over_time,
        _("Your data over time"),
        _("One line per segment measured in several years; built-in figures in their own panel"),
        panel_of=measure_group if builtin is not None else None,
    ),
    over_time,
    "your_data.over_time",
    "your_data_over_time.csv",
    empty_message=_(
        "No segment of your table has two or more years, so there is no line to draw; the bars below show it."
    ),
)
by_segment = selections.your_data_by_segment(result.rows, builtin)
show_chart(
    figures.build_segment_bars(by_segment, _("Your data by segment")),
    by_segment,
    "your_data.by_segment",
    "your_data_by_segment.csv",
    empty_message=_("Your table has no breakdown rows (a segment other than 'All')."),
)
