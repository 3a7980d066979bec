"""Widgets for a user's market table: mapping their columns to the schema, showing validation."""

from __future__ import annotations

import streamlit as st

from backend.i18n import _, ngettext
from backend.market.mapping import MarketColumns, suggest_mapping
from backend.market.schema import COLUMN_HELP, REQUIRED_COLUMNS, SCHEMA_COLUMNS, ValidationResult

NOT_IN_FILE = "(not in my file)"
_MAX_ISSUES_SHOWN = 500


def show_column_mapping(user_columns: list[str], key: str) -> MarketColumns:
    """One picker per schema column (suggested from the user's names) and, where nothing is picked,
    a box for a value that applies to every row. Starred columns are required."""
    suggested = suggest_mapping(user_columns)
    mapping = MarketColumns()
    required = [c for c in REQUIRED_COLUMNS if c != "source_url"]
    _show_pickers(required, user_columns, suggested, mapping, key, st.columns(3), star=True)
    optional = [c for c in SCHEMA_COLUMNS if c not in required]
    with st.expander(_("Optional columns"), icon=":material/tune:"):
        _show_pickers(optional, user_columns, suggested, mapping, key, st.columns(3), star=False)
    return mapping


def _show_pickers(
    columns: list[str],
    user_columns: list[str],
    suggested: MarketColumns,
    mapping: MarketColumns,
    key: str,
    grid: list,
    star: bool,
) -> None:
    options = [NOT_IN_FILE, *user_columns]
    for index, column in enumerate(columns):
        with grid[index % len(grid)]:
            default = suggested.columns.get(column)
            picked = st.selectbox(
                f"{column}{' *' if star else ''}",
                options,
                index=options.index(default) if default else 0,
                key=f"{key}.map.{column}",
                help=_(COLUMN_HELP[column]),
            )
            if picked != NOT_IN_FILE:
                mapping.columns[column] = picked
                continue
            value = st.text_input(
                _("{column}: value for every row").format(column=column),
                key=f"{key}.const.{column}",
                max_chars=300,
                label_visibility="collapsed",
                placeholder=_("{column}: value for every row").format(column=column),
            )
            if value.strip():
                mapping.constants[column] = value.strip()


def show_validation(result: ValidationResult) -> None:
    """How many rows passed, and a table of every problem by spreadsheet row."""
    valid = len(result.rows)
    if result.ok:
        st.success(_("All {valid:,} rows are valid.").format(valid=valid), icon=":material/check_circle:")
        return
    rejected = len(result.rejected_rows)
    summary = ngettext(
        "{valid:,} of {total:,} row is valid", "{valid:,} of {total:,} rows are valid", result.total_rows
    ).format(valid=valid, total=result.total_rows)
    if rejected:
        summary += ngettext("; {count:,} row was left out.", "; {count:,} rows were left out.", rejected).format(
            count=rejected
        )
    else:
        summary += _(".")
    st.warning(
        _("{summary} Fix these in your file and upload it again:").format(summary=summary), icon=":material/rule:"
    )
    issues = [
        {
            _("row"): issue.row if issue.row is not None else _("table"),
            _("column"): issue.column,
            _("problem"): issue.message,
        }
        for issue in result.issues[:_MAX_ISSUES_SHOWN]
    ]
    st.dataframe(issues, hide_index=True, width="stretch", key="market_upload.issues")
    if len(result.issues) > _MAX_ISSUES_SHOWN:
        st.caption(
            _("Showing the first {MAX_ISSUES_SHOWN} of {issues:,} problems.").format(
                MAX_ISSUES_SHOWN=_MAX_ISSUES_SHOWN, issues=len(result.issues)
            )
        )
