"""Chinese labels of the shipped market data are data (data/market/labels/zh.csv): every text a
market page shows from a shipped row has one, and the charts use them under ``?lang=zh``."""

from __future__ import annotations

import re

import pandas as pd

from backend.i18n import use_language
from backend.market import figures, selections, store
from backend.market.series_labels import (
    LABELLED_COLUMNS,
    data_label,
    data_labels,
    localised_rows,
    measure_group,
    value_label,
)

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_every_shipped_row_has_a_chinese_label_for_each_text_it_shows():
    data = store.load_market_data()
    labels = data_labels("zh")
    missing = [
        f"{row['row_id']} {column}={row[column]!r}"
        for _, row in data.iterrows()
        for column in LABELLED_COLUMNS
        if str(row.get(column, "") or "") and (column, str(row[column])) not in labels
    ]
    assert missing == []
    # The measures a chart's panels and growth bars are titled with.
    groups = {measure_group(row) for _, row in data.iterrows()}
    assert sorted(group for group in groups if ("measure_group", group) not in labels) == []


def test_labels_are_chinese_except_for_proper_names():
    labels = data_labels("zh")
    # Model names and units such as FLOP stay as written; everything else reads as Chinese.
    untranslated = [
        en
        for (column, en), zh in labels.items()
        if not HAN.search(zh) and column not in ("segment", "unit", "measure_group")
    ]
    assert untranslated == []
    assert labels[("geography", "China")] == "中国"
    assert labels[("segment", "GPT-4")] == "GPT-4"


def test_a_label_follows_the_language_and_user_text_stays_as_typed():
    assert data_label("geography", "European Union") == "European Union"
    with use_language("zh"):
        assert data_label("geography", "European Union") == "欧盟"
        assert data_label("geography", "Atlantis") == "Atlantis"
        table = localised_rows(pd.DataFrame({"geography": ["Canada"], "segment": ["All"], "value": [12.2]}))
        assert table.to_dict("records") == [{"geography": "加拿大", "segment": "全部", "value": 12.2}]


def test_money_is_written_in_yi_with_its_currency_for_chinese_readers():
    with use_language("zh"):
        assert value_label(252.3, "USD billion") == "2,523亿美元"
        assert value_label(900, "CNY billion", "more than") == ">9,000亿元"
        assert value_label(16.7, "GBP billion") == "167亿英镑"
        assert value_label(38, "percent") == "38%"
    assert value_label(252.3, "USD billion") == "252.3"


def test_charts_under_chinese_show_the_chinese_labels():
    rows = store.load_market_data()
    by_country = selections.adoption_by_segment(rows, "country")
    with use_language("zh"):
        figure = figures.build_adoption_by_segment(by_country, "country")
    bar_labels = [label for trace in figure.data for label in trace.y]
    assert "中国" in bar_labels and "China" not in bar_labels
    hovers = " ".join(str(cell) for trace in figure.data for row in trace.customdata for cell in row)
    assert "企业比例" in hovers

    investment = rows.loc[rows["metric"] == "corporate_ai_investment"]
    with use_language("zh"):
        figure = figures.build_investment_over_time(investment)
    values = [row[2] for trace in figure.data if trace.customdata is not None for row in trace.customdata]
    assert "2,523亿美元" in values


def test_chart_titles_and_panels_follow_the_language():
    rows = store.load_market_data()
    groups = dict(selections.by_measure_group(selections.adoption_over_time(rows)))
    with use_language("zh"):
        figure = figures.build_adoption_over_time(groups["Firms, 10+ employees"])
        spending = figures.build_spending_forecasts(selections.spending_forecasts(rows))
    # Chinese titles wrap between characters (a break takes the place of a space), so a phrase
    # may span lines.
    title = figure.layout.title.text.replace("<br>", " ")
    assert "企业（10 名及以上员工）" in title
    assert "AI use over time" not in title
    panels = [annotation.text.replace("<br>", "") for annotation in spending.layout.annotations]
    assert any("IDC：" in text for text in panels)


def test_the_industries_best_figures_read_in_chinese():
    from backend.market import industries

    with use_language("zh"):
        table = industries.best_figures(store.load_market_data())
    assert table["industry"].tolist()[:2] == ["医疗", "金融"]
    text = " ".join(str(cell) for cell in table.to_numpy().ravel())
    assert "no comparable figure" not in text and "in the collection" not in text
    assert "无可比数据" in text or "% " not in text


def test_a_table_shows_money_in_yi_with_its_currency():
    rows = pd.DataFrame({"geography": ["World", "China"], "value": [252.3, 12.5], "unit": ["USD billion", "percent"]})
    with use_language("zh"):
        shown = localised_rows(rows)
    assert shown.to_dict("records") == [
        {"geography": "全球", "value": "2,523亿美元", "unit": ""},
        {"geography": "中国", "value": "12.5", "unit": "百分比"},
    ]


def test_a_money_axis_is_ticked_in_yi_with_its_currency():
    rows = store.load_market_data()
    investment = rows.loc[rows["metric"] == "corporate_ai_investment"]
    with use_language("zh"):
        figure = figures.build_investment_over_time(investment)
    assert "2,000亿美元" in figure.layout.yaxis.ticktext
    assert figure.layout.yaxis.ticktext[0] == "0美元"
    assert figures.build_investment_over_time(investment).layout.yaxis.ticktext is None
