"""The industry x task matrix and the figures built from it."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from backend.use_cases import figures, matrix
from backend.use_cases.catalogue import Catalogue, SourceRef, UseCase, load_catalogue


def _use_case(use_case_id: str, industry: str, tasks: tuple[str, ...], basis: str = "stated", maturity: str = "C"):
    return UseCase(
        id=use_case_id,
        industry=industry,
        title_en=use_case_id.replace("-", " ").title(),
        title_zh="用例",
        description_en="A use case.",
        description_zh="一个用例。",
        tasks=tasks,
        task_basis=basis if tasks else "none",
        maturity=maturity,
        sources=(SourceRef("004", 1, 1, maturity),),
        demo_page="",
    )


SMALL = Catalogue(
    (
        _use_case("fraud", "finance", ("anomaly-detection", "tabular-classification"), basis="inferred"),
        _use_case("markets", "finance", ("forecasting",), basis="inferred", maturity="F"),
        _use_case("risk", "finance", ("forecasting", "tabular-classification"), basis="inferred"),
        _use_case("translate", "nlp", ("translation",)),
        _use_case("sentiment", "nlp", ("sentiment-analysis", "text-classification")),
        _use_case("genes", "healthcare", ()),
    )
)


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return load_catalogue()


def test_counts_per_industry_and_task():
    built = matrix.build_task_matrix(SMALL.use_cases)
    # Rows and columns in vocabulary order; all-zero rows (healthcare: no tasks) dropped.
    assert built.industries == ("nlp", "finance")
    assert built.tasks == (
        "text-classification",
        "sentiment-analysis",
        "translation",
        "forecasting",
        "anomaly-detection",
        "tabular-classification",
    )
    assert built.counts == ((1, 1, 1, 0, 0, 0), (0, 0, 0, 2, 1, 2))
    assert built.count("finance", "forecasting") == 2
    assert built.use_cases_in("finance", "tabular-classification") == ("fraud", "risk")
    assert built.count("healthcare", "forecasting") == 0
    assert built.to_frame().loc["Finance", "Forecasting"] == 2


def test_stated_only_leaves_out_inferred_tasks():
    built = matrix.build_task_matrix(SMALL.use_cases, include_inferred=False)
    assert built.industries == ("nlp",)
    assert built.counts == ((1, 1, 1),)


def test_keep_empty_keeps_the_whole_vocabulary():
    built = matrix.build_task_matrix(SMALL.use_cases, keep_empty=True)
    assert len(built.industries) == 13 and len(built.tasks) == 18
    assert sum(map(sum, built.counts)) == 8


def test_empty_selection_gives_an_empty_matrix():
    built = matrix.build_task_matrix(())
    assert built.is_empty and built.counts == ()


def test_shipped_matrix_values(shipped):
    built = matrix.build_task_matrix(shipped.use_cases)
    assert built.use_cases_in("finance", "anomaly-detection") == ("finance-fraud-detection",)
    assert built.use_cases_in("nlp", "translation") == ("nlp-machine-translation",)
    expected = sum(1 for u in shipped.use_cases if u.industry == "finance" and "forecasting" in u.tasks)
    assert built.count("finance", "forecasting") == expected == 5
    assert sum(map(sum, built.counts)) == sum(len(u.tasks) for u in shipped.use_cases)
    assert json.loads(json.dumps(built.to_dict()))["counts"] == [list(row) for row in built.counts]


def test_maturity_counts():
    assert matrix.maturity_counts(SMALL.use_cases) == {
        "nlp": {"C": 2, "F": 0, "T": 0},
        "finance": {"C": 2, "F": 1, "T": 0},
        "healthcare": {"C": 1, "F": 0, "T": 0},
    }


def test_heatmap_trace_matches_the_matrix_with_tasks_down_the_side():
    built = matrix.build_task_matrix(SMALL.use_cases)
    figure = figures.build_heatmap(built, figures.use_case_titles(SMALL.use_cases))
    assert len(figure.data) == 1
    trace = figure.data[0]
    assert isinstance(trace, go.Heatmap)
    # Tasks are the rows, industries the columns: the matrix transposed.
    assert [list(row) for row in trace.z] == [list(column) for column in zip(*built.counts, strict=True)]
    assert list(trace.x) == ["Natural language processing", "Finance"]
    assert list(trace.y)[:3] == ["Text classification", "Sentiment analysis", "Translation"]
    # Zero cells show no number; hover lists the use cases of the cell.
    assert [row[1] for row in trace.text] == ["", "", "", "2", "1", "2"]
    assert trace.customdata[5][1] == "Fraud<br>Risk"
    assert trace.zmin == 0
    assert trace.showscale is False
    assert figure.layout.yaxis.autorange == "reversed"
    # Taller with more tasks, so each row keeps its height.
    assert figure.layout.height > figures.build_heatmap(matrix.build_task_matrix(SMALL.use_cases[:1]), {}).layout.height


def test_heatmap_in_chinese():
    built = matrix.build_task_matrix(SMALL.use_cases)
    trace = figures.build_heatmap(built, {}, language="zh").data[0]
    assert list(trace.x) == ["自然语言处理", "金融"]
    assert "机器翻译" in list(trace.y)
    # Without titles the hover falls back to the ids.
    assert trace.customdata[3][1] == "markets<br>risk"


def test_heatmap_of_nothing_says_so():
    figure = figures.build_heatmap(matrix.build_task_matrix(()), {})
    assert len(figure.data) == 0
    assert figure.layout.annotations[0].text == "No use case matches the filters."


def test_maturity_bars_stack_one_trace_per_level_present():
    figure = figures.build_maturity_bars(matrix.maturity_counts(SMALL.use_cases))
    assert [trace.name for trace in figure.data] == ["Current application", "Future / emerging application"]
    # Industries in vocabulary order (healthcare before finance), whatever the input order.
    assert list(figure.data[0].y) == ["Natural language processing", "Healthcare", "Finance"]
    assert list(figure.data[0].x) == [2, 1, 2]
    assert list(figure.data[1].x) == [0, 0, 1]
    assert figure.layout.barmode == "stack"
    assert len(figures.build_maturity_bars({}).data) == 0


def test_the_charts_follow_the_language_of_the_run():
    from backend.i18n import use_language

    with use_language("zh"):
        bars = figures.build_maturity_bars(matrix.maturity_counts(SMALL.use_cases))
        empty = figures.build_heatmap(matrix.build_task_matrix(()), {})
    assert "Healthcare" not in list(bars.data[0].y)
    assert bars.layout.xaxis.title.text == "应用场景数"
    assert empty.layout.annotations[0].text == "没有符合筛选条件的应用场景。"
