"""The shipped use-case catalogue: schema, vocabularies, sources, demo links; and the validator itself."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from backend.i18n import use_language
from backend.use_cases import catalogue, vocabulary
from backend.use_cases.catalogue import CatalogueError, load_catalogue, parse_catalogue
from pages.components.navigation import PAGES
from tests.support.paths import PROJECT_ROOT

SEEDS = Path("/work/shared/seeds")
SHIPPED = PROJECT_ROOT / "data" / "use_cases.csv"


@pytest.fixture(scope="module")
def shipped() -> catalogue.Catalogue:
    return load_catalogue()


def _rows() -> list[dict[str, str]]:
    with SHIPPED.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _as_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=catalogue.COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def test_shipped_catalogue_loads_with_the_documented_columns(shipped):
    with SHIPPED.open(encoding="utf-8") as handle:
        assert tuple(next(csv.reader(handle))) == catalogue.COLUMNS
    assert len(shipped) == len(_rows()) >= 40
    assert len({use_case.id for use_case in shipped.use_cases}) == len(shipped)


def test_every_industry_of_the_documents_has_use_cases(shipped):
    industries = {use_case.industry for use_case in shipped.use_cases}
    assert industries == set(vocabulary.term_keys(vocabulary.INDUSTRIES))


def test_the_brief_s_core_use_cases_are_present(shipped):
    titles = {use_case.id: use_case.title_en for use_case in shipped.use_cases}
    assert titles["finance-fraud-detection"] == "Fraud detection"
    assert shipped.get("finance-fraud-detection").sources[0].label() == "004 L495"
    assert shipped.get("finance-fraud-detection").industry == "finance"
    assert shipped.get("nlp-machine-translation").demo_page == "pages/demos/translation.py"
    assert shipped.get("nlp-sentiment-analysis").demo_page == "pages/demos/sentiment.py"


def test_maturity_follows_the_statuses_of_the_sources(shipped):
    for use_case in shipped.use_cases:
        assert use_case.maturity == catalogue.derive_maturity(ref.status for ref in use_case.sources), use_case.id
    # Healthcare imaging: current in 000, 001, 004, a prospect in 002, so current overall.
    imaging = shipped.get("health-medical-imaging")
    assert {ref.document: ref.status for ref in imaging.sources}["002"] == "F"
    assert imaging.maturity == "C"
    assert shipped.get("finance-quant-trading").maturity == "F"
    assert shipped.get("cross-intelligent-decision").maturity == "T"


def test_task_basis_agrees_with_tasks(shipped):
    for use_case in shipped.use_cases:
        assert (use_case.task_basis == vocabulary.NO_TASKS) == (not use_case.tasks), use_case.id


def test_every_demo_link_points_to_an_existing_or_planned_demo_page(shipped):
    planned = {page.path for page in vocabulary.DEMO_PAGES}
    registered = {page.path for page in PAGES}
    linked = {use_case.demo_page for use_case in shipped.use_cases if use_case.demo_page}
    assert linked <= planned
    # The four live demos exist as files and are registered; each is linked from the catalogue.
    for path in ("pages/demos/sentiment.py", "pages/demos/translation.py", "pages/demos/image_classification.py"):
        assert path in linked
    assert "pages/demos/text_generation.py" in linked
    for path in planned:
        assert path.startswith(("pages/demos/", "pages/finetune/")), path
        # A demo page that exists must be reachable; the page links only registered ones.
        if (PROJECT_ROOT / path).is_file():
            assert path in registered, path
        if path in registered:
            assert (PROJECT_ROOT / path).is_file(), path


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not on this machine")
def test_every_source_reference_points_at_text_in_its_document(shipped):
    texts = {
        key: (SEEDS / name).read_text(encoding="utf-8").split("\n") for key, name in vocabulary.DOCUMENT_FILES.items()
    }
    for use_case in shipped.use_cases:
        for ref in use_case.sources:
            lines = texts[ref.document]
            assert ref.last_line <= len(lines), (use_case.id, ref.label())
            assert lines[ref.first_line - 1].strip(), (use_case.id, ref.label())


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not on this machine")
def test_stated_single_task_rows_quote_their_task_from_the_cited_lines(shipped):
    # Guards faithfulness where it can be checked mechanically: a use case whose Chinese title is
    # itself a task name must find that name in its first cited line.
    texts = {
        key: (SEEDS / name).read_text(encoding="utf-8").split("\n") for key, name in vocabulary.DOCUMENT_FILES.items()
    }
    for use_case_id, word in [
        ("finance-fraud-detection", "欺诈检测"),
        ("nlp-machine-translation", "机器翻译"),
        ("speech-synthesis", "语音合成"),
        ("mfg-failure-prediction", "设备故障"),
        ("edu-automatic-grading", "自动批改"),
        ("city-urban-planning", "城市规划"),
    ]:
        ref = shipped.get(use_case_id).sources[0]
        cited = "".join(texts[ref.document][ref.first_line - 1 : ref.last_line])
        assert word in cited, (use_case_id, ref.label())


def test_to_dict_is_json_able(shipped):
    data = json.loads(json.dumps(shipped.to_dict(), ensure_ascii=False))
    assert data["use_cases"][0]["sources"][0]["label"]


def test_content_hash_changes_with_the_searchable_text(shipped):
    rows = _rows()
    same = parse_catalogue(_as_csv(rows))
    rows[0]["description_en"] = rows[0]["description_en"] + " Edited."
    edited = parse_catalogue(_as_csv(rows))
    assert same.content_hash() == shipped.content_hash()
    assert edited.content_hash() != shipped.content_hash()


def test_filters_combine(shipped):
    finance = catalogue.filter_use_cases(shipped.use_cases, industries=["finance"])
    assert finance and all(use_case.industry == "finance" for use_case in finance)
    forecasting_future = catalogue.filter_use_cases(shipped.use_cases, tasks=["forecasting"], maturities=["F"])
    assert {use_case.id for use_case in forecasting_future} == {
        use_case.id for use_case in shipped.use_cases if "forecasting" in use_case.tasks and use_case.maturity == "F"
    }
    assert "finance-quant-trading" in {use_case.id for use_case in forecasting_future}
    assert catalogue.filter_use_cases(shipped.use_cases) == shipped.use_cases


def test_display_table_has_both_titles_and_labels(shipped):
    table = catalogue.to_table(shipped.use_cases[:2])
    assert list(table["use case"]) == ["Text classification", "Sentiment analysis"]
    assert list(table["use case (other language)"]) == ["文本分类", "情感分析"]
    assert table.loc[1, "AI tasks"] == "Sentiment analysis, Text classification"
    assert table.loc[1, "live demo"] == "Sentiment demo"
    assert table.loc[0, "maturity"] == "Current application"


def test_display_table_in_chinese_names_tasks_industries_and_demos_in_chinese(shipped):
    with use_language("zh"):
        table = catalogue.to_table(shipped.use_cases[:2], "zh")
    assert list(table["use case"]) == ["文本分类", "情感分析"]
    assert "use case (other language)" not in table  # no English title under a Chinese page
    # The catalogue's task names come from the one vocabulary (data/use_cases.csv keeps the keys).
    assert table.loc[1, "AI tasks"] == "情感分析, 文本分类"
    assert table.loc[0, "industry"] == "自然语言处理"
    assert table.loc[0, "maturity"] == "现有应用"
    assert table.loc[0, "tasks from"] == "文档明确提到的任务"
    assert table.loc[1, "live demo"] == "情感分析演示"


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("tasks", "text-classification; telepathy", "unknown task 'telepathy'"),
        ("industry", "farming", "unknown industry 'farming'"),
        ("sources", "004:L495", "is not DOC:Lfirst[-last]:STATUS"),
        ("sources", "009:L1:C", "unknown document 009"),
        ("sources", "004:L9-3:C", "empty line range"),
        ("sources", "", "sources is empty"),
        ("maturity", "F", "maturity 'F' disagrees with its sources, which give 'C'"),
        ("demo_page", "pages/demos/unknown.py", "is not a known demo page"),
        ("title_zh", "Text classification", "title_zh has no Chinese text"),
        ("description_en", "文本", "description_en contains Chinese characters"),
        ("task_basis", "none", "task_basis must be 'none' exactly when tasks is empty"),
        ("id", "Bad Id", "must be lower-case words joined by hyphens"),
    ],
)
def test_invalid_rows_are_reported_with_their_row_number(column, value, message):
    rows = _rows()
    rows[2][column] = value
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(_as_csv(rows))
    assert any(problem.startswith("Row 4 (") and message in problem for problem in caught.value.problems), (
        caught.value.problems
    )


def test_duplicate_ids_and_every_bad_row_are_reported_together():
    rows = _rows()
    rows[5]["id"] = rows[4]["id"]
    rows[8]["industry"] = "farming"
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(_as_csv(rows))
    assert len(caught.value.problems) == 2
    assert "is used twice" in caught.value.problems[0]
    assert "Row 10" in caught.value.problems[1]


def test_wrong_header_empty_file_and_missing_file_are_refused(tmp_path):
    with pytest.raises(CatalogueError, match="wrong columns"):
        parse_catalogue("id,industry\nx,nlp\n")
    with pytest.raises(CatalogueError, match="no rows"):
        parse_catalogue(",".join(catalogue.COLUMNS) + "\n")
    with pytest.raises(CatalogueError, match="missing"):
        load_catalogue(tmp_path / "absent.csv")
    (tmp_path / "latin1.csv").write_bytes("id,industry\n\xe9\n".encode("latin-1"))
    with pytest.raises(CatalogueError, match="not UTF-8"):
        load_catalogue(tmp_path / "latin1.csv")


def test_a_byte_order_mark_is_accepted():
    assert len(parse_catalogue("\ufeff" + _as_csv(_rows()))) == len(_rows())
