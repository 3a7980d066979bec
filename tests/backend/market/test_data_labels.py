"""Chinese labels of the shipped market data are data (data/market/labels/zh.csv): every text a
market page shows from a shipped row has one, and the charts use them under ``?lang=zh``."""

from __future__ import annotations

import re

import pandas as pd

from backend.i18n import use_language
from backend.market import figures, selections, series_labels, store
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
        if not HAN.search(zh)
        and column not in ("segment", "unit", "measure_group")
        # An organisation known by the same name in Chinese (IBM, IDC) keeps it.
        and not (column == "source_org" and zh == en)
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


URL = re.compile(r"https?://[^\s)（）“”，。；：、]+")
PERCENT = re.compile(r"\d+(?:\.\d+)?%")


def test_every_caveat_reads_in_chinese_with_its_addresses_and_percentages_kept():
    data = store.load_market_data()
    labels = data_labels("zh")
    notes = sorted({str(note) for note in data["note"] if str(note).strip()})
    assert len(notes) > 100
    missing = [note for note in notes if ("note", note) not in labels]
    assert missing == []

    def addresses(text: str) -> set[str]:
        # A sentence's own full stop or comma after an address is not part of it.
        return {url.rstrip(".,:;") for url in URL.findall(text)}

    changed = [
        note
        for note in notes
        if not addresses(note) <= addresses(labels[("note", note)])
        or not set(PERCENT.findall(note)) <= set(PERCENT.findall(labels[("note", note)]))
    ]
    assert changed == []
    note = "Peak of the 2017-2022 period"
    assert labels[("note", note)] == "2017-2022 年期间的峰值"


def test_caveats_follow_the_language_in_hovers_and_source_lists():
    rows = store.load_market_data()
    row = rows.loc[rows["note"] == "Information sector and large firms are higher"].iloc[0]
    with use_language("zh"):
        assert "信息业和大型企业更高" in figures.caveat_html(row)
        sources = store.sources_of(rows.loc[rows["dataset"] == "census_btos"])
        listed = series_labels.source_markdown(sources)
    assert "信息业和大型企业更高" in listed and "美国人口普查局" in listed
    assert "Information sector" not in listed and "figures" not in listed
    assert "Information sector and large firms are higher" in figures.caveat_html(row)


def test_the_industry_coverage_table_reads_in_chinese():
    from backend.market import industries

    with use_language("zh"):
        table = industries.coverage(store.load_market_data())
    btos_health = table.loc[table["survey"] == "美国人口普查局 BTOS 2026"].iloc[0]
    assert btos_health["industry"] == "医疗"
    assert btos_health["segment"] == data_label_zh("segment", "Health care and social assistance")
    assert btos_health["rank"] == "第 7 / 共 19" and btos_health["verification"] == "二手来源"
    smart_city = table.loc[table["industry"] == "智慧城市"].iloc[0]
    assert smart_city["survey"] == "无可比数据" and "收录的公开调查" in smart_city["note"]
    with use_language("zh"):
        assert "智慧城市" in industries.missing_industries(store.load_market_data())


def data_label_zh(column: str, text: str) -> str:
    return data_labels("zh")[(column, text)]


def test_chinese_chart_text_wraps_by_width_between_characters():
    from backend.market.series_labels import wrapped

    # A Chinese character is two Latin widths; a line breaks between characters, never before
    # closing punctuation, and a short name after a space moves whole to the next line.
    assert wrapped("每条线对应一项调查自身的受访总体；其他指标不会共用此坐标轴", 50) == (
        "每条线对应一项调查自身的受访总体；其他指标不会共用<br>此坐标轴"
    )
    assert wrapped("欧盟统计局 · 丹麦", 16) == "欧盟统计局 ·<br>丹麦"
    assert all(not line.startswith("，") for line in wrapped("甲乙丙丁戊己庚辛，壬癸", 16).split("<br>"))
    assert wrapped("<b>美国</b>", 70) == "&lt;b&gt;美国&lt;/b&gt;"
    assert wrapped("Some english text that wraps", 12) == "Some english<br>text that<br>wraps"


def test_a_chinese_readers_csv_keeps_keys_and_numbers_and_carries_the_chinese_caveats():
    rows = store.load_market_data()
    btos = rows.loc[rows["note"] == "Information sector and large firms are higher"]
    with use_language("zh"):
        exported = series_labels.exported_rows(btos)
    assert list(exported.columns) == list(btos.columns)
    assert exported["value"].tolist() == btos["value"].tolist()
    assert exported["note"].tolist() == ["信息业和大型企业更高"] * len(btos)
    assert set(exported["geography"]) == {"美国"} and set(exported["dataset"]) == {"census_btos"}
    assert series_labels.exported_rows(btos) is btos


def test_growth_rates_and_forecast_tags_read_in_chinese():
    """A legend's growth rate and a panel's FORECAST tag were English literals under ?lang=zh."""
    rows = store.load_market_data()
    groups = dict(selections.by_measure_group(selections.adoption_over_time(rows)))
    with use_language("zh"):
        adoption = figures.build_adoption_over_time(groups["Firms, 10+ employees"])
        local = figures.build_local_markets(selections.local_markets(rows))
        spending = figures.build_spending_forecasts(selections.spending_forecasts(rows))
    lines = " ".join(t.name for t in spending.data if t.name and (t.meta or {}).get("forecast"))
    assert "预测" in lines and "forecast" not in lines.lower()
    names = " ".join(t.name for t in adoption.data if t.name)
    assert "个百分点" in names and "pp/yr" not in names
    panels = " ".join(annotation.text for annotation in local.layout.annotations)
    assert "<b>预测</b>" in panels and "FORECAST" not in panels and " by " not in panels
