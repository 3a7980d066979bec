"""One parameter form for every training kind, drawn from the kind's parameter table.

A kind lists each field once (label, widget, key); bounds and steps come from its range table
(``PARAM_RANGES``, ``CHAT_PARAM_RANGES``), defaults from its default parameters, and the values go
back through ``known_fields`` (the cast a stored ``params.json`` gets), so no field is written
three times (widget, cast, constructor).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from backend.i18n import N_, _
from backend.training.param_checks import MAX_TITLE_CHARS, ParamRange, known_fields

Params = TypeVar("Params")
_COLUMNS = 3
# Choices that are words (auto) rather than names (fp32, all-linear): the word is shown in the
# reader's language, the value stays as it is in the parameters.
_CHOICE_WORDS = {"auto": N_("auto")}


@dataclass(frozen=True)
class FormField:
    """One parameter's widget.

    Attributes:
        name: the parameter's field name.
        label: what the widget says (English, marked with ``N_``; shown translated).
        key: the widget's key under the form's key (default: ``name``).
        by_method: one widget per method (its key ends with the method), because the method's
            defaults differ, so switching method shows that method's default.
        choices: a select box of these (a number input without them).
        text: a text input.
        slider: a slider rather than a number input.
        number_format: the number input's format, e.g. ``%.0e``.
        help: the widget's tooltip (marked with ``N_`` like ``label``).
    """

    name: str
    label: str
    key: str = ""
    by_method: bool = False
    choices: tuple[str, ...] = ()
    text: bool = False
    slider: bool = False
    number_format: str | None = None
    help: str | None = None

    def widget_key(self, key: str, method: str) -> str:
        """The widget's full key under the form's ``key``."""
        own = f"{key}.{self.key or self.name}"
        return f"{own}.{method}" if self.by_method else own


def _show_field(
    column: DeltaGenerator, field: FormField, value: Any, bounds: ParamRange | None, key: str, disabled: bool
) -> Any:
    label, tooltip = _(field.label), _(field.help) if field.help else None
    if field.choices:
        return column.selectbox(
            label,
            field.choices,
            format_func=lambda choice: _(_CHOICE_WORDS[choice]) if choice in _CHOICE_WORDS else choice,
            key=key,
            help=tooltip,
            disabled=disabled,
        )
    if field.text:
        return column.text_input(label, value, key=key, help=tooltip, disabled=disabled)
    if bounds is None:
        raise ValueError(f"No range for the numeric parameter {field.name!r}.")
    if field.slider:
        return column.slider(
            label, bounds.low, bounds.high, value, step=bounds.step, key=key, help=tooltip, disabled=disabled
        )
    return column.number_input(
        label,
        min_value=bounds.low,
        max_value=bounds.high,
        value=value,
        step=bounds.step,
        format=field.number_format,
        key=key,
        help=tooltip,
        disabled=disabled,
    )


def show_param_form(
    fields: Sequence[FormField],
    ranges: dict[str, ParamRange],
    defaults: Params,
    key: str,
    method: str,
    title_placeholder: str,
    disabled: Collection[str] = (),
) -> Params:
    """The model title and an expander of hyperparameters, three to a row; returns ``defaults``
    with the values entered (not validated: submitting validates them once).

    Args:
        fields: the kind's fields, in the order they are shown.
        ranges: the kind's range table (bounds and steps of the number inputs and sliders).
        defaults: the kind's default parameters for this method and base model (a dataclass).
        key: the form's widget namespace, e.g. ``finetune``.
        method: the chosen method (part of the key of ``by_method`` fields).
        title_placeholder: an example title.
        disabled: names of the fields the method does not use (shown greyed out).
    """
    title = st.text_input(
        _("Model title"), key=f"{key}.title", max_chars=MAX_TITLE_CHARS, placeholder=title_placeholder
    )
    values: dict[str, Any] = {}
    with st.expander(_("Hyperparameters"), icon=":material/tune:"):
        columns = st.columns(_COLUMNS)
        for position, field in enumerate(fields):
            values[field.name] = _show_field(
                columns[position % _COLUMNS],
                field,
                getattr(defaults, field.name),
                ranges.get(field.name),
                field.widget_key(key, method),
                field.name in disabled,
            )
    return dataclasses.replace(defaults, title=title.strip(), **known_fields(type(defaults), values))
