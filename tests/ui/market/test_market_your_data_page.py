"""The Your market data page: upload, map columns, row-level validation, charts; nothing saved."""

import hashlib
import io
import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from backend.market.store import MARKET_DIR
from pages.components import market_charts
from tests.support.paths import PROJECT_ROOT

PAGE = str(PROJECT_ROOT / "pages" / "market" / "your_data.py")
HEADER = "dataset,metric,definition,geography,segment,year,value,unit,source_org,source_title,source_url,verification\n"
GOOD = (
    HEADER
    + "pulse,teams_using_ai,Share of our teams using AI weekly,World,All,2023,31,percent,Strategy office,Q3 pulse,,primary\n"
    + "pulse,teams_using_ai,Share of our teams using AI weekly,World,All,2024,44,percent,Strategy office,Q3 pulse,,primary\n"
    + "pulse,teams_using_ai,Share of our teams using AI weekly,World,Finance,2024,52,percent,Strategy office,Q3 pulse,,secondary\n"
)


def _figures(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def _upload(name: str, content: bytes) -> AppTest:
    market_charts.market_data.clear()
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    app.file_uploader(key="your_data.file").set_value((name, content, "text/csv")).run()
    return app


def _market_files_digest() -> dict[str, str]:
    return {
        str(p.relative_to(MARKET_DIR)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(MARKET_DIR.rglob("*"))
        if p.is_file()
    }


def test_without_upload_the_page_explains_what_to_do():
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not app.exception
    assert any("Upload a table to start" in i.value for i in app.info)
    assert not app.get("plotly_chart")


def test_schema_table_is_validated_and_charted_and_not_saved():
    before = _market_files_digest()
    app = _upload("mine.csv", GOOD.encode())
    assert not app.exception
    assert any("All 3 rows are valid." in s.value for s in app.success)
    figures = _figures(app)
    assert len(figures) == 2
    over_time, by_segment = figures
    assert [trace["y"] for trace in over_time["data"]] == [[31.0, 44.0]]
    assert "Share of our teams using AI weekly" in over_time["data"][0]["name"].replace("<br>", " ")
    assert by_segment["data"][0]["y"] == ["Finance"]
    assert by_segment["data"][0]["marker"]["pattern"]["shape"] == ["/"]
    folded = [e for e in app.expander if e.label.startswith("Sources and caveats")]
    sources = [c.value for c in folded[0].caption]
    assert "Strategy office" in sources[0] and "Q3 pulse" in sources[0]
    assert _market_files_digest() == before


def test_beside_view_adds_the_built_in_series():
    app = _upload("mine.csv", GOOD.encode())
    app.segmented_control(key="your_data.view").set_value("Beside the built-in figures").run()
    assert not app.exception
    metas = [trace.get("meta", {}) for trace in _figures(app)[0]["data"] if not trace.get("meta", {}).get("legend_key")]
    datasets = [meta.get("dataset") for meta in metas]
    assert datasets[0] == "pulse", "the user's own series come first"
    assert "eurostat_isoc_eb_ai" in datasets, "built-in figures of one measure, in their own panel"
    assert len({meta["panel"] for meta in metas}) == 2


def test_three_columns_and_a_source_name_draw_one_line_per_segment():
    table = "industry,year,share %\nRetail,2023,10\nRetail,2024,15\nFinance,2023,20\nFinance,2024,31\n"
    app = _upload("survey.csv", table.encode())
    assert not app.exception
    assert app.text_input(key="your_data.source").value == "survey"
    app.text_input(key="your_data.source").set_value("Our 2024 survey").run()
    assert not app.exception
    assert any("All 4 rows are valid." in s.value for s in app.success)
    over_time = _figures(app)[0]
    lines = [t for t in over_time["data"] if not t.get("meta", {}).get("legend_key")]
    names = [t["name"].replace("<br>", " ") for t in lines]
    assert len(lines) == 2 and any("Retail" in n for n in names) and any("Finance" in n for n in names)
    assert sorted(t["y"] for t in lines) == [[10.0, 15.0], [20.0, 31.0]]
    assert len({t["line"]["color"] for t in lines}) == 2 and "#111111" not in {t["line"]["color"] for t in lines}
    assert all(t["meta"]["dataset"] == "Our 2024 survey" for t in lines)


def test_bad_rows_get_row_level_messages_and_good_rows_still_chart():
    bad = GOOD + "pulse,teams_using_ai,Share,World,All,twenty,5,percent,Strategy office,Q3,,primary\n"
    bad += "pulse,teams_using_ai,Share,World,All,2022,140,percent,,Q3,,primary\n"
    app = _upload("bad.csv", bad.encode())
    assert not app.exception
    assert any("3 of 5 rows are valid; 2 rows were left out." in w.value for w in app.warning)
    issues = app.dataframe[-1].value
    assert list(issues["row"]) == [5, 6, 6]
    assert "'twenty' is not a whole year" in issues["problem"].iloc[0]
    assert set(issues["column"]) == {"year", "value", "source_org"}
    assert len(_figures(app)) == 2


def test_own_column_names_are_mapped_with_values_for_every_row():
    own = pd.DataFrame(
        {
            "Country": ["Germany", "France"],
            "Year": ["2024", "2024"],
            "Share": ["31", "44"],
            "Source": ["Pulse", "Pulse"],
        }
    )
    app = _upload("own.csv", own.to_csv(index=False).encode())
    assert not app.exception
    assert any("All 2 rows are valid." in s.value for s in app.success), "country, year, value: charted at once"
    app.toggle(key="your_data.full_mapping").set_value(True).run()
    assert app.selectbox(key="your_data.map.geography").value == "Country"
    assert app.selectbox(key="your_data.map.value").value == "Share"
    assert any("Nothing is mapped to" in w.value for w in app.warning)
    for column, value in {
        "dataset": "pulse",
        "metric": "teams_using_ai",
        "definition": "Share of teams using AI",
        "segment": "All",
        "unit": "percent",
        "source_title": "Q3 pulse survey",
        "verification": "primary",
    }.items():
        app.text_input(key=f"your_data.const.{column}").set_value(value)
    app.run()
    assert not app.exception
    assert any("All 2 rows are valid." in s.value for s in app.success)
    over_time = _figures(app)[0]
    names = sorted(trace["name"].replace("<br>", " ") for trace in over_time["data"])
    assert len(names) == 2 and "France" in names[0] and "Germany" in names[1]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.xlsx", b"not a workbook", "not a readable .xlsx workbook"),
        ("empty.csv", HEADER.encode(), "no data rows"),
        ("binary.csv", bytes(range(256)) * 4, "binary.csv"),
    ],
)
def test_unreadable_uploads_get_a_message(name, content, expected):
    app = _upload(name, content)
    assert not app.exception
    assert any(expected in w.value for w in app.warning), [w.value for w in app.warning]
    assert not app.get("plotly_chart")


def test_xlsx_upload_is_read():
    buffer = io.BytesIO()
    pd.read_csv(io.StringIO(GOOD), dtype=str, keep_default_na=False).to_excel(buffer, index=False)
    app = _upload("mine.xlsx", buffer.getvalue())
    assert not app.exception
    assert any("rows are valid" in s.value for s in app.success)
