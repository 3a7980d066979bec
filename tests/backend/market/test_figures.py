"""Figure builders, tested on their traces and layout (what a reader would see)."""

import re

import pandas as pd
import plotly.graph_objects as go
import pytest

from backend.market import figures, model_figures, selections, store
from backend.market.figures import DISTINCT_COLOURS, colour_distance
from backend.market.schema import validate_table
from backend.market.series_labels import DATASET_COLOURS, SECONDARY_NOTES, measure_group  # noqa: F401


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return store.load_market_data()


def _data_traces(figure: go.Figure) -> list:
    return [t for t in figure.data if not (t.meta or {}).get("legend_key")]


def _annotation_texts(figure: go.Figure) -> list[str]:
    return [a.text.replace("<br>", " ") for a in figure.layout.annotations]


def _group(data, name):
    return dict(selections.by_measure_group(selections.adoption_over_time(data)))[name]


def test_adoption_is_drawn_one_measure_group_per_chart(data):
    """No axis holds two measures or two size thresholds; the national series are all there."""
    rows = selections.adoption_over_time(data)
    groups = dict(selections.by_measure_group(rows))
    assert list(groups)[:4] == [
        "Firms, 10+ employees",
        "Firms, any size",
        "Firms, 5+ employees",
        "Firms, 50+ employees",
    ]
    assert {"Respondents' organisations", "IT professionals' companies"} <= set(groups)
    assert sum(len(g) for g in groups.values()) == len(rows), "every headline row is in exactly one group"
    places = {(d, g) for d, g in zip(rows["dataset"], rows["geography"], strict=True)}
    assert {
        ("statcan_ai_use", "Canada"),
        ("ine_ict_enterprises", "Spain"),
        ("korea_ai_adoption", "South Korea"),
    } <= places
    assert ("eurostat_isoc_eb_ai", "Denmark") not in places, "a survey's countries go to the country chart"
    for name, group_rows in groups.items():
        figure = figures.build_adoption_over_time(group_rows)
        assert {t.meta["measure_group"] for t in _data_traces(figure)} == {name}
        assert name in figure.layout.title.text.replace("<br>", " ")
    eu = groups["Firms, 10+ employees"]
    assert set(eu["dataset"]) == {"eurostat_isoc_eb_ai", "ine_ict_enterprises"}
    mckinsey = figures.build_adoption_over_time(groups["Respondents' organisations"])
    assert all(t.meta["dataset"] == "mckinsey_state_of_ai" for t in _data_traces(mckinsey))


def test_each_line_has_its_own_colour(data):
    for _name, rows in selections.by_measure_group(selections.adoption_over_time(data)):
        traces = [t for t in _data_traces(figures.build_adoption_over_time(rows)) if not t.meta["forecast"]]
        colours = [t.line.color for t in traces]
        assert len(set(colours)) == len(colours)
        first = traces[0]
        assert first.line.color == DATASET_COLOURS[first.meta["dataset"]], "a source's first line keeps its colour"
    investment = figures.build_investment_over_time(selections.investment_over_time(data))
    colours = [t.line.color for t in _data_traces(investment) if not t.meta["forecast"]]
    assert len(colours) >= 6 and len(set(colours)) == len(colours), "six investment series, six colours"
    closest = min(colour_distance(a, b) for i, a in enumerate(colours) for b in colours[i + 1 :])
    assert closest >= DISTINCT_COLOURS, "no two lines in near-identical colours (AI Index dark red vs #9d0208)"
    names = [t.name.replace("<br>", " ").split(" · ")[0] for t in _data_traces(investment)]
    # Each edition names the report, so the entry names the measure only: one line on a phone.
    assert "Corporate AI investment" in names and "Private gen-AI investment" in names


def test_investment_by_country_is_drawn_by_country_not_as_one_point_lines(data):
    over_time = selections.investment_over_time(data)
    assert not ((over_time["metric"] == "private_ai_investment") & (over_time["geography"] != "World")).any()
    by_country = selections.investment_by_country(data)
    assert {"United States", "China", "United Kingdom"} <= set(by_country["geography"])


def test_secondary_points_are_hollow_and_explained(data):
    rows = _group(data, "Respondents' organisations")
    figure = figures.build_adoption_over_time(rows)
    mckinsey = next(t for t in _data_traces(figure) if t.meta["metric"] == "organisations_using_ai")
    mck_rows = rows.loc[rows["metric"] == "organisations_using_ai"]
    expected = ["circle-open" if v == "secondary" else "circle" for v in mck_rows["verification"]]
    assert list(mckinsey.marker.symbol) == expected
    assert mckinsey.line.dash == "solid", "mixed series keep a solid line"
    ibm_rows = _group(data, "IT professionals' companies")
    ibm = _data_traces(figures.build_adoption_over_time(ibm_rows))[0]
    assert ibm.line.dash == "solid", "IBM's own press release is primary"
    ibm = _data_traces(figures.build_adoption_over_time(ibm_rows.assign(verification="secondary")))[0]
    assert ibm.line.dash == "dot", "an all-secondary series is dotted"
    keys = [t.name for t in figure.data if (t.meta or {}).get("legend_key")]
    assert keys == ["Primary source (filled marker)", "Secondary source (hollow marker, dotted line)"]


def test_definition_break_is_a_gap_with_its_reason_on_hover(data):
    figure = figures.build_adoption_over_time(_group(data, "Firms, 10+ employees"))
    eurostat = [t for t in _data_traces(figure) if t.meta["dataset"] == "eurostat_isoc_eb_ai"]
    assert [list(t.x) for t in eurostat] == [[2021, 2023, 2024], [2025]], "the 2025 value is not joined"
    spain = [t for t in _data_traces(figure) if t.meta["dataset"] == "ine_ict_enterprises"]
    assert [list(t.x) for t in spain] == [[2023, 2024], [2025]]
    hover = eurostat[1].customdata[0][3].replace("<br>", " ")
    assert "SERIES BREAK" in hover and "adds generating pictures, video or sound" in hover
    assert "widened the list of AI technologies" in eurostat[1].customdata[0][6].replace("<br>", " ")
    breaks = [s for s in figure.layout.shapes if s.line.dash == "dash"]
    assert [b.x0 for b in breaks] == [2024.5]
    assert _annotation_texts(figure).count("definition changed") == 1, "one label per break, not one per survey"
    census = figures.build_adoption_over_time(_group(data, "Firms, any size"))
    assert [s.x0 for s in census.layout.shapes if s.line.dash == "dash"] == [2025.5]


def test_far_forecasts_do_not_squeeze_the_measured_years(data):
    rows = _group(data, "Firms, size threshold not stated")
    assert 2040 in set(rows["year"]), "the DCMS 2040 projection"
    figure = figures.build_adoption_over_time(rows)
    assert max(x for t in _data_traces(figure) for x in t.x) == 2025
    assert figure.layout.xaxis.range[1] <= 2025.5
    note = next(a.text for a in figure.layout.annotations if a.name == "far-forecast-note")
    assert "UK DSIT / DCMS 2040 forecast 34.8%" in note


def test_spending_chart_never_puts_gartner_genai_on_idc_all_ai_axis(data):
    figure = figures.build_spending_forecasts(selections.spending_forecasts(data))
    axes = {t.meta["panel"]: t.yaxis for t in _data_traces(figure)}
    assert set(axes) == set(selections.SPENDING_PANELS.values())
    assert len(set(axes.values())) == 2
    for trace in _data_traces(figure):
        assert trace.meta["dataset"] == "ai_spending_forecasts"
        publisher = "IDC" if trace.meta["metric"] in ("ai_spending", "genai_spending") else "Gartner"
        assert trace.meta["panel"] == selections.SPENDING_PANELS[publisher]


def test_hover_shows_definition_value_and_source(data):
    figure = figures.build_adoption_over_time(_group(data, "Respondents' organisations"))
    trace = _data_traces(figure)[0]
    assert trace.hovertemplate == figures.TIME_HOVER
    first = trace.customdata[0]
    assert first[0] == "McKinsey State of AI" and first[1] == "2017" and first[2] == "20%"
    assert first[4] == "McKinsey &amp; Company (VentureBeat summary)" and first[5] == "secondary"


def test_segment_bars_one_panel_per_survey_year_hatched_when_secondary(data):
    rows = selections.adoption_by_segment(data, "size")
    figure = figures.build_adoption_by_segment(rows, "size")
    panels = {(t.meta["dataset"], t.meta["year"]) for t in figure.data}
    assert panels == {
        ("eurostat_isoc_eb_ai", 2023),
        ("eurostat_isoc_eb_ai", 2024),
        ("eurostat_isoc_eb_ai", 2025),
        ("census_btos", 2026),
        ("uk_ai_adoption", 2025),
        ("ine_ict_enterprises", 2025),
        ("statcan_ai_use", 2023),
    }
    uk = next(t for t in figure.data if t.meta["dataset"] == "uk_ai_adoption")
    assert set(uk.marker.pattern.shape) == {"/"}, "the DSIT figures come from a summary"
    eurostat_2025 = next(t for t in figure.data if t.meta == {**t.meta, "dataset": "eurostat_isoc_eb_ai", "year": 2025})
    assert list(eurostat_2025.y) == ["Small", "All (overall)", "Medium", "Large"]
    assert list(eurostat_2025.text) == ["17%", "19.95%", "30.36%", "55.03%"]
    assert list(eurostat_2025.marker.pattern.shape) == ["", "", "", ""], "all four read on Eurostat's own data"
    eurostat_2023 = next(t for t in figure.data if t.meta == {**t.meta, "dataset": "eurostat_isoc_eb_ai", "year": 2023})
    assert set(eurostat_2023.marker.pattern.shape) == {"/"}, (
        "2023 sizes come from an aggregator's copy of Eurostat's page"
    )
    spain = next(t for t in figure.data if t.meta["dataset"] == "ine_ict_enterprises")
    assert set(spain.marker.pattern.shape) == {""}, "INE's own tables are primary"
    census = next(t for t in figure.data if t.meta["dataset"] == "census_btos")
    assert [y.replace("<br>", " ") for y in census.y] == ["100-249 employees", "250+ employees"], (
        "a range is not an overall bar"
    )
    assert all(t.orientation == "h" and t.hovertemplate == figures.BAR_HOVER for t in figure.data)
    assert SECONDARY_NOTES["bars"] in _annotation_texts(figure)
    assert any("Eurostat, 2025" in text for text in _annotation_texts(figure))


def test_country_chart_uses_geography(data):
    figure = figures.build_adoption_by_segment(selections.adoption_by_segment(data, "country"), "country")
    labels = {label for trace in figure.data for label in trace.y}
    assert {"Denmark", "Romania", "European Union", "North America", "Greater China"} <= labels
    assert "by country" in figure.layout.title.text


def test_investment_charts_label_bounds(data):
    figure = figures.build_investment_by_country(selections.investment_by_country(data))
    assert "USD billion" in figure.layout.title.text
    by_year = {t.meta["year"]: dict(zip(t.y, t.text, strict=True)) for t in figure.data}
    assert by_year[2024] == {"United Kingdom": "4.5", "China": "9.3", "United States": "109.1"}
    assert by_year[2023] == {"China": "<8", "United States": ">67"}
    focus = figures.build_investment_by_focus_area(selections.investment_by_focus_area(data))
    assert {t.meta["dataset"] for t in focus.data} == {
        "ai_index_investment",
        "oecd_ai_investment",
        "ai_spending_forecasts",
    }


def test_model_scale_is_log_with_hover_details(data):
    rows = selections.model_scale(data, "parameters")
    figure = model_figures.build_model_scale(rows, "parameters")
    assert figure.layout.yaxis.type == "log"
    assert "Parameters" in figure.layout.title.text and "log scale" in figure.layout.title.text
    names = {t.name for t in figure.data}
    assert names == {"Epoch AI: confident", "Epoch AI: likely", "Epoch AI: speculative"}
    symbols = {t.name: set(t.marker.symbol) for t in figure.data}
    assert symbols["Epoch AI: speculative"] == {"x"}
    gpt3 = next(t for t in figure.data if "GPT-3 175B (davinci)" in t.text)
    details = gpt3.customdata[list(gpt3.text).index("GPT-3 175B (davinci)")]
    assert details[:4] == ["OpenAI, United States", "2020-05-28", "175 billion parameters", "Confident"]
    assert gpt3.hovertemplate == model_figures.MODEL_HOVER
    assert sum(len(t.x) for t in figure.data) == len(rows) == 23


def test_compute_chart_notes_the_growth_trend(data):
    figure = model_figures.build_model_scale(selections.model_scale(data, "training_compute"), "training_compute")
    assert figure.layout.yaxis.type == "log"
    assert any(text.startswith("Trend: 4.3x per year") for text in _annotation_texts(figure))
    compute = next(t for t in figure.data if "GPT-4" in t.text)
    assert "2.1×10^25 FLOP" in compute.customdata[list(compute.text).index("GPT-4")][2]


def test_empty_rows_give_a_message_not_an_error(data):
    empty = data.iloc[0:0]
    for figure in (
        figures.build_adoption_over_time(empty),
        figures.build_adoption_by_segment(empty, "industry"),
        model_figures.build_model_scale(empty, "parameters"),
    ):
        assert figure.data == ()
        assert "No rows match the current filters." in _annotation_texts(figure)


def test_user_text_cannot_inject_markup():
    frame = pd.DataFrame(
        [
            {
                "dataset": "<img src=x onerror=alert(1)>",
                "metric": "m",
                "definition": "<b>bold</b> claim",
                "geography": "World",
                "segment": "All",
                "year": "2024",
                "value": "5",
                "unit": "percent",
                "source_org": "<script>x</script>",
                "source_title": "t",
                "source_url": "https://example.com",
                "verification": "primary",
            }
        ]
    )
    rows = validate_table(frame).rows
    figure = figures.build_time_series(rows, "Mine")
    trace = figure.data[0]
    shown = [trace.name, *[str(cell) for row in trace.customdata for cell in row], *_annotation_texts(figure)]
    assert any("&lt;img" in text for text in shown), "the text is still shown, escaped"
    assert not any("<img" in text or "<script" in text or "<b>bold" in text for text in shown)
    assert figure.data[0].line.color not in DATASET_COLOURS.values()


def test_selections_reject_unknown_kinds(data):
    with pytest.raises(ValueError):
        selections.adoption_by_segment(data, "planet")
    with pytest.raises(ValueError):
        selections.model_scale(data, "tokens")


def test_panels_in_one_unit_share_the_value_axis_and_bounds_are_faded(data):
    figure = figures.build_investment_by_country(selections.investment_by_country(data))
    ranges = {tuple(figure.layout[name].range) for name in figure.layout if name.startswith("xaxis")}
    assert len(ranges) == 1, "a 2023 bar of 67 must look shorter than a 2024 bar of 109.1"
    assert max(next(iter(ranges))) > 109.1
    by_year = {t.meta["year"]: list(t.marker.opacity) for t in figure.data}
    assert by_year[2023] == [0.45, 0.45] and by_year[2024] == [1.0, 1.0, 1.0]


def test_user_rows_beside_built_in_rows(data):
    frame = pd.DataFrame(
        [
            {
                "dataset": "pulse",
                "metric": "m",
                "definition": "Teams using AI",
                "geography": "World",
                "segment": segment,
                "segment_type": kind,
                "year": "2024",
                "value": value,
                "unit": "percent",
                "source_org": "Strategy office",
                "source_title": "Pulse",
                "source_url": "",
                "verification": "primary",
            }
            for segment, kind, value in (("All", "all", "30"), ("Retail", "industry", "41"))
        ]
    )
    user = validate_table(frame, require_url=False).rows
    assert selections.your_data_over_time(user)["value"].tolist() == [30.0]
    beside = selections.your_data_over_time(user, data)
    assert beside["dataset"].iloc[0] == "pulse", "the user's rows come first"
    assert {"pulse", "eurostat_isoc_eb_ai"} <= set(beside["dataset"])
    figure = figures.build_time_series(beside, "Yours and ours", panel_of=measure_group)
    panels = {t.meta["dataset"]: t.meta["panel"] for t in _data_traces(figure)}
    assert panels["pulse"] != panels["eurostat_isoc_eb_ai"], "a user's percent and our firm shares never share an axis"
    by_segment = selections.your_data_by_segment(user, data)
    assert set(by_segment.loc[by_segment["dataset"] == "pulse", "segment"]) == {"Retail"}
    assert (by_segment["dataset"] == "census_btos").any(), "the built-in industry breakdown is added"
    assert by_segment["dataset"].iloc[0] == "pulse", "the user's bars come first, beside ours too"


def test_a_segment_over_several_years_is_a_line_and_only_its_latest_year_a_bar():
    frame = pd.DataFrame(
        [
            {
                "dataset": "pulse",
                "metric": "teams_using_ai",
                "definition": "Teams using AI",
                "geography": "World",
                "segment": segment,
                "segment_type": "industry",
                "year": str(year),
                "value": str(value),
                "unit": "percent",
                "source_org": "Strategy office",
                "source_title": "Pulse",
                "source_url": "",
                "verification": "primary",
            }
            for segment, year, value in (
                ("Retail", 2023, 20),
                ("Retail", 2024, 30),
                ("Energy", 2023, 10),
                ("Energy", 2024, 15),
                ("Mining", 2022, 5),
            )
        ]
    )
    user = validate_table(frame, require_url=False).rows
    lines = selections.your_data_over_time(user)
    assert set(lines["segment"]) == {"Retail", "Energy"}
    bars = selections.your_data_by_segment(user)
    assert sorted(zip(bars["segment"], bars["year"], strict=True)) == [
        ("Energy", 2024),
        ("Mining", 2022),
        ("Retail", 2024),
    ], "every row is drawn once as a line or a bar; a segment measured once keeps its year"


def _uploaded_segments(count: int) -> pd.DataFrame:
    """A quick upload of ``count`` segments over four years: ``count`` lines and legend entries."""
    from backend.market.mapping import apply_mapping, quick_columns

    table = pd.DataFrame(
        [
            {"segment": f"Segment number {n}", "year": year, "value": 5 + 3 * n + 4 * (year - 2021)}
            for n in range(count)
            for year in range(2021, 2025)
        ]
    )
    columns = quick_columns(list(table.columns), "Pulse survey", "pulse.csv")
    return validate_table(apply_mapping(table, columns, require_url=False), require_url=False).rows


def _charts_with_legends(data) -> list:
    """Every chart of the market pages that draws a legend, and the user's own with many lines."""
    from backend.decisions import industry_inputs, review, scoring, speed
    from backend.use_cases.catalogue import load_catalogue

    charts = [
        figures.build_adoption_over_time(rows)
        for _, rows in selections.by_measure_group(selections.adoption_over_time(data))
    ]
    charts.append(figures.build_investment_over_time(selections.investment_over_time(data)))
    charts.append(figures.build_spending_forecasts(selections.spending_forecasts(data)))
    charts.append(model_figures.build_model_scale(selections.model_scale(data, "parameters"), "parameters"))
    # A dozen of the user's own lines: more than any shipped chart draws.
    many = _uploaded_segments(12)
    charts.append(figures.build_time_series(selections.your_data_over_time(many), "Yours"))
    beside = selections.your_data_over_time(many, data)
    charts.append(figures.build_time_series(beside, "Yours and ours", panel_of=measure_group))
    use_cases = load_catalogue().use_cases
    market = industry_inputs.industry_inputs(data)
    for criterion in scoring.CRITERIA:
        view = scoring.sensitivity(use_cases, market, speed.recorded_figures(), scoring.Weights(), criterion)
        charts.append(review.build_sensitivity_chart(view, {u.id: u.title_en for u in use_cases}))
    return charts


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_phones_legend_never_outgrows_the_plot(data, language):
    from backend.i18n import use_language
    from backend.market.figure_layout import LEGEND_CHARS, legend_height

    with use_language(language):
        charts = _charts_with_legends(data)
    for figure in charts:
        shown = [t for t in figure.data if t.showlegend is not False]
        names = [str(t.name) for t in shown]
        assert all(len(line) <= LEGEND_CHARS for name in names for line in name.split("<br>")), names
        legend, plot = figure.layout.meta["legend_px"], figure.layout.meta["plot_px"]
        # Plotly's own sizes for a stacked legend (measured in Chromium: nine one-line entries are
        # 261 px): each entry 1.3 lines of 11 px type (at least 16 px) plus 3, and 10 px after each
        # legend group; the estimate is never below that.
        groups = len({t.legendgroup or id(t) for t in shown})
        drawn = sum(max(14.3 * (name.count("<br>") + 1), 16) + 3 for name in names) + 10 * groups
        assert legend == legend_height(names, groups) >= drawn, figure.layout.title.text
        panels = [figure.layout[a].domain for a in figure.layout if a.startswith("yaxis")]
        panel_share = sum(high - low for low, high in (d or (0, 1) for d in panels))
        assert plot * panel_share >= legend, (
            f"{figure.layout.title.text}: panels {plot * panel_share} < legend {legend}"
        )
        # Room for the title, the plot (at least its legend's height), the year labels and the legend.
        assert figure.layout.height >= figure.layout.margin.t + plot + legend
        assert figure.layout.legend.orientation == "h" and figure.layout.legend.y < 0, "the legend sits under the plot"
    assert max(len(chart.data) for chart in charts) >= 15, "the many-line charts are among them"
    for figure in charts:
        # One colour a series (its measured and forecast parts share it); the grey keys explain markers.
        series = {t.legendgroup or t.name: t.line.color for t in _data_traces(figure) if t.line.color}
        assert len(set(series.values())) == len(series), f"{figure.layout.title.text}: every line its own colour"


def test_the_source_caption_adds_its_room_instead_of_squeezing_the_plot(data):
    from backend.market.figure_layout import with_source_caption

    rows = selections.adoption_by_segment(data, "country")
    figure = figures.build_adoption_by_segment(rows, "country")
    captioned = with_source_caption(figure, rows)
    assert captioned.layout.margin.t > figure.layout.margin.t
    assert captioned.layout.height - captioned.layout.margin.t == figure.layout.height - figure.layout.margin.t


def test_the_secondary_note_under_bars_has_room_for_every_line(data):
    from backend.market.figure_layout import NOTE_LINE_PX

    rows = selections.adoption_by_segment(data, "country")
    figure = figures.build_adoption_by_segment(rows, "country")
    note = next(a for a in figure.layout.annotations if a.name == "secondary-note")
    lines = note.text.count("<br>") + 1
    assert lines >= 3 and figure.layout.margin.b >= lines * NOTE_LINE_PX + 12, "the note's last line was cut off"
    assert note.y < 0 and note.yanchor == "top"


def test_bar_panel_headings_fit_a_phone_line(data):
    from backend.market.figure_layout import LINE_CHARS

    rows = selections.adoption_by_segment(data, "industry")
    figure = figures.build_adoption_by_segment(rows, "industry")
    headings = [a.text for a in figure.layout.annotations if a.name != "secondary-note"]
    assert headings and rows["dataset"].nunique() > 3
    for heading in headings:
        for line in heading.split("<br>"):
            visible = re.sub(r"<[^>]+>", "", line)
            assert len(visible) <= LINE_CHARS + 6, f"'{visible}' runs off a phone's chart"
    sector = next(h for h in headings if "Sector surveys" in h)
    assert sector.startswith("<b>Sector surveys (finance, health,</b><br><b>teachers), ")


def test_a_quick_uploads_lines_name_the_source_once():
    from backend.market.mapping import apply_mapping, quick_columns

    table = pd.DataFrame({"segment": ["Retail", "Retail", "Energy", "Energy"], "year": [2023, 2024] * 2})
    table["value"] = [10, 20, 5, 9]
    columns = quick_columns(list(table.columns), "Pulse survey", "pulse.csv")
    rows = validate_table(apply_mapping(table, columns, require_url=False), require_url=False).rows
    names = [t.name.replace("<br>", " ") for t in _data_traces(figures.build_time_series(rows, "Yours"))]
    assert names[0].startswith("Pulse survey: value · ") and names[0].count("Pulse survey") == 1, names


def test_chinese_text_wraps_by_its_width_between_characters():
    from backend.market.series_labels import wrapped

    title = "AI 使用率随时间变化：企业（10 名及以上员工）（%）"
    lines = wrapped(title, 30).split("<br>")
    # A Chinese character is two Latin ones wide: 30 columns hold 15 of them.
    assert len(lines) == 2 and all(sum(2 if ord(c) > 0x2E80 else 1 for c in line) <= 30 for line in lines), lines
    assert "".join(lines).replace(" ", "") == title.replace(" ", "")
    assert not any(line[0] in "，。）：；" for line in lines), "no line starts with closing punctuation"
    # A short name after the last space moves whole rather than splitting.
    assert wrapped("欧盟统计局 · 丹麦", 16) == "欧盟统计局 ·<br>丹麦"
    # Latin text wraps at spaces as before, and markup stays escaped.
    assert wrapped("Plain English text that should wrap", 20) == "Plain English text<br>that should wrap"
    assert wrapped("<b>x</b> 中文", 30) == "&lt;b&gt;x&lt;/b&gt; 中文"


def test_the_two_ends_of_a_stated_range_are_two_named_bars(data):
    """DCMS's 2025 UK spending forecast is a range (27.2-35.6 GBP billion): plotly drew both under
    one name as one stacked bar of 62.8, off the axis and without its labels."""
    figure = figures.build_local_markets(selections.local_markets(data))
    uk = next(t for t in figure.data if list(t.x) == [27.2, 35.6])
    assert [label.replace("<br>", " ") for label in uk.y] == ["United Kingdom (low end)", "United Kingdom (high end)"]
    assert list(uk.text) == ["27.2", "35.6"]


def test_two_series_of_one_source_are_two_growth_bars(data):
    """McKinsey's organisations using AI (2017-2025) and using gen-AI (2023-2024) shared one bar
    name, so plotly stacked +8.5 and +38.0 into one bar with overlapping labels."""
    from backend.market import growth

    changes = [
        c
        for c in growth.series_changes(data)
        if c.group == "Respondents' organisations" and c.per_year_unit == "pp per year" and c.segment == "All"
    ]
    figure = figures.build_growth_bars(changes, "Change per year")
    for trace in figure.data:
        assert len(set(trace.y)) == len(trace.y), trace.y
    labels = [label.replace("<br>", " ") for trace in figure.data for label in trace.y]
    assert "McKinsey State of AI (2017–2025)" in labels and "McKinsey State of AI (2023–2024)" in labels


def test_every_line_gets_its_own_colour_beyond_the_palette():
    colours = figures.SeriesColours(user=["Yours"])
    handed = [colours.next("Yours") for _ in range(40)] + [colours.next("eurostat_isoc_eb_ai") for _ in range(5)]
    assert len(set(handed)) == len(handed)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", colour) for colour in handed)
