"""Loading and validating the use-case catalogue (``data/use_cases.csv``).

The file is hand-edited, so every row is checked against the controlled vocabularies and the
reference format, and every problem is reported with its row number at once. Maturity is stored in
the file for readers and checked against the statuses of the row's source references, so the two
can never drift apart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from backend.config import PROJECT_ROOT
from backend.errors import ShowcaseError
from backend.i18n import N_, _
from backend.use_cases import vocabulary as vocab

DEFAULT_PATH = PROJECT_ROOT / "data" / "use_cases.csv"
COLUMNS: tuple[str, ...] = (
    "id",
    "industry",
    "title_en",
    "title_zh",
    "description_en",
    "description_zh",
    "tasks",
    "task_basis",
    "maturity",
    "sources",
    "demo_page",
)
LIST_SEPARATOR = ";"

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SOURCE = re.compile(r"^(?P<doc>\d{3}):L(?P<first>\d+)(?:-(?P<last>\d+))?:(?P<status>[A-Z])$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# "One or two sentences": generous bounds that still catch a pasted paragraph.
_MAX_DESCRIPTION_EN = 320
_MAX_DESCRIPTION_ZH = 160


class CatalogueError(ShowcaseError):
    """The catalogue file is missing or has invalid rows; ``problems`` lists each one."""

    def __init__(self, message: str, problems: Iterable[str] = (), hint: str = "") -> None:
        self.problems = tuple(problems)
        detail = " ".join(self.problems[:5]) + (" …" if len(self.problems) > 5 else "")
        super().__init__(f"{message} {detail}".strip(), hint)


@dataclass(frozen=True)
class SourceRef:
    """One place in a source document that names the use case, and how it presents it."""

    document: str
    first_line: int
    last_line: int
    status: str

    def label(self) -> str:
        """Compact citation, e.g. ``004 L495-497``."""
        lines = f"L{self.first_line}" + (f"-{self.last_line}" if self.last_line != self.first_line else "")
        return f"{self.document} {lines}"

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return {**asdict(self), "label": self.label()}


@dataclass(frozen=True)
class UseCase:
    """One row of the catalogue."""

    id: str
    industry: str
    title_en: str
    title_zh: str
    description_en: str
    description_zh: str
    tasks: tuple[str, ...]
    task_basis: str
    maturity: str
    sources: tuple[SourceRef, ...]
    demo_page: str

    def title(self, language: str = "en") -> str:
        """The title in ``language`` ("en" or "zh")."""
        return self.title_zh if language == "zh" else self.title_en

    def description(self, language: str = "en") -> str:
        """The description in ``language`` ("en" or "zh")."""
        return self.description_zh if language == "zh" else self.description_en

    def search_text(self, language: str) -> str:
        """Title and description in one language: what semantic search embeds."""
        return f"{self.title(language)}. {self.description(language)}"

    def documents(self) -> tuple[str, ...]:
        """The source documents citing this use case, without repeats, in order."""
        return tuple(dict.fromkeys(ref.document for ref in self.sources))

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return {**asdict(self), "tasks": list(self.tasks), "sources": [ref.to_dict() for ref in self.sources]}


@dataclass(frozen=True)
class Catalogue:
    """The validated use cases, in file order."""

    use_cases: tuple[UseCase, ...]

    def __len__(self) -> int:
        return len(self.use_cases)

    def get(self, use_case_id: str) -> UseCase:
        """The use case with this id; KeyError otherwise."""
        for use_case in self.use_cases:
            if use_case.id == use_case_id:
                return use_case
        raise KeyError(use_case_id)

    def content_hash(self) -> str:
        """SHA-256 of the searchable texts: changes exactly when cached embeddings go stale."""
        digest = hashlib.sha256()
        for use_case in self.use_cases:
            for part in (use_case.id, use_case.search_text("en"), use_case.search_text("zh")):
                digest.update(part.encode("utf-8"))
                digest.update(b"\x00")
        return digest.hexdigest()

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return {"use_cases": [use_case.to_dict() for use_case in self.use_cases]}


def derive_maturity(statuses: Iterable[str]) -> str:
    """Current if any document presents the use case as current, else future, else trend."""
    found = set(statuses)
    for status in (vocab.CURRENT, vocab.FUTURE, vocab.TREND):
        if status in found:
            return status
    raise ValueError("a use case needs at least one source reference")


def split_list(text: str) -> tuple[str, ...]:
    """Split a ``;``-separated cell, dropping blanks and surrounding spaces."""
    return tuple(part.strip() for part in (text or "").split(LIST_SEPARATOR) if part.strip())


def parse_source(text: str) -> SourceRef:
    """Parse ``004:L495-497:C`` into a SourceRef.

    Raises:
        ValueError: the reference is malformed, names an unknown document or an unknown status.
    """
    match = _SOURCE.match(text.strip())
    if not match:
        raise ValueError(f"source {text!r} is not DOC:Lfirst[-last]:STATUS, e.g. 004:L495-497:C")
    document = match["doc"]
    if document not in vocab.DOCUMENT_FILES:
        raise ValueError(f"source {text!r} names unknown document {document}")
    if match["status"] not in vocab.term_keys(vocab.MATURITY):
        raise ValueError(f"source {text!r} has status {match['status']}; use C, F or T")
    first = int(match["first"])
    last = int(match["last"] or first)
    if first < 1 or last < first:
        raise ValueError(f"source {text!r} has an empty line range")
    return SourceRef(document, first, last, match["status"])


def _text_problems(row: dict[str, str]) -> list[str]:
    problems = []
    for column in ("title_en", "title_zh", "description_en", "description_zh"):
        if not row[column]:
            problems.append(f"{column} is empty")
    for column in ("title_en", "description_en"):
        if _CJK.search(row[column]):
            problems.append(f"{column} contains Chinese characters")
    for column in ("title_zh", "description_zh"):
        if row[column] and not _CJK.search(row[column]):
            problems.append(f"{column} has no Chinese text")
    if len(row["description_en"]) > _MAX_DESCRIPTION_EN:
        problems.append(f"description_en is longer than {_MAX_DESCRIPTION_EN} characters")
    if len(row["description_zh"]) > _MAX_DESCRIPTION_ZH:
        problems.append(f"description_zh is longer than {_MAX_DESCRIPTION_ZH} characters")
    return problems


def _task_problems(tasks: tuple[str, ...], basis: str) -> list[str]:
    problems = [f"unknown task {task!r}" for task in tasks if task not in vocab.term_keys(vocab.AI_TASKS)]
    if len(set(tasks)) != len(tasks):
        problems.append("a task is listed twice")
    if basis not in vocab.term_keys(vocab.TASK_BASES):
        problems.append(f"task_basis {basis!r} is not one of {', '.join(vocab.term_keys(vocab.TASK_BASES))}")
    elif (basis == vocab.NO_TASKS) != (not tasks):
        problems.append("task_basis must be 'none' exactly when tasks is empty")
    return problems


def parse_row(row: dict[str, str]) -> tuple[UseCase | None, list[str]]:
    """Validate one CSV row (values already stripped): the use case, or the list of problems."""
    problems = _text_problems(row)
    if not _ID.match(row["id"]):
        problems.append(f"id {row['id']!r} must be lower-case words joined by hyphens")
    if row["industry"] not in vocab.term_keys(vocab.INDUSTRIES):
        problems.append(f"unknown industry {row['industry']!r}")
    tasks = split_list(row["tasks"])
    problems += _task_problems(tasks, row["task_basis"])
    sources: list[SourceRef] = []
    for text in split_list(row["sources"]):
        try:
            sources.append(parse_source(text))
        except ValueError as error:
            problems.append(str(error))
    if not split_list(row["sources"]):
        problems.append("sources is empty: every use case needs a document reference")
    elif sources and len(sources) == len(split_list(row["sources"])):
        expected = derive_maturity(ref.status for ref in sources)
        if row["maturity"] != expected:
            problems.append(f"maturity {row['maturity']!r} disagrees with its sources, which give {expected!r}")
    if row["demo_page"] and vocab.find_demo(row["demo_page"]) is None:
        problems.append(f"demo_page {row['demo_page']!r} is not a known demo page")
    if problems:
        return None, problems
    use_case = UseCase(
        id=row["id"],
        industry=row["industry"],
        title_en=row["title_en"],
        title_zh=row["title_zh"],
        description_en=row["description_en"],
        description_zh=row["description_zh"],
        tasks=tasks,
        task_basis=row["task_basis"],
        maturity=row["maturity"],
        sources=tuple(sources),
        demo_page=row["demo_page"],
    )
    return use_case, []


def parse_catalogue(text: str) -> Catalogue:
    """Validate the catalogue's CSV text.

    Raises:
        CatalogueError: wrong columns, duplicate ids or invalid rows, each named with its row number.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = tuple(name.strip() for name in (reader.fieldnames or ()))
    if header != COLUMNS:
        raise CatalogueError(
            _("The use-case catalogue has the wrong columns."),
            [
                _("Expected {expected}; found {found}.").format(
                    expected=", ".join(COLUMNS), found=", ".join(header) or _("none")
                )
            ],
        )
    use_cases: list[UseCase] = []
    problems: list[str] = []
    seen: set[str] = set()
    # Row numbers count the header as row 1, as a spreadsheet shows them.
    for number, raw in enumerate(reader, start=2):
        if None in raw:
            problems.append(f"Row {number}: more cells than columns (an unquoted comma?).")
            continue
        row = {key.strip(): (value or "").strip() for key, value in raw.items()}
        use_case, row_problems = parse_row(row)
        if row["id"] in seen:
            row_problems.append(f"id {row['id']!r} is used twice")
        seen.add(row["id"])
        if row_problems:
            problems.append(f"Row {number} ({row['id'] or 'no id'}): {'; '.join(row_problems)}.")
        elif use_case is not None:
            use_cases.append(use_case)
    if problems:
        raise CatalogueError(_("The use-case catalogue has invalid rows."), problems)
    if not use_cases:
        raise CatalogueError(_("The use-case catalogue has no rows."))
    return Catalogue(tuple(use_cases))


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate the catalogue file (``data/use_cases.csv`` by default).

    Raises:
        CatalogueError: the file is missing, not UTF-8, or invalid.
    """
    path = path or DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise CatalogueError(
            _("The use-case catalogue {name} is missing.").format(name=path.name), hint=_("Restore it from git.")
        ) from error
    except UnicodeDecodeError as error:
        raise CatalogueError(_("The use-case catalogue {name} is not UTF-8 text.").format(name=path.name)) from error
    return parse_catalogue(text)


def filter_use_cases(
    use_cases: Iterable[UseCase],
    industries: Iterable[str] = (),
    tasks: Iterable[str] = (),
    maturities: Iterable[str] = (),
) -> tuple[UseCase, ...]:
    """The use cases matching every non-empty filter (a use case matches a task filter if it needs any)."""
    industry_set, task_set, maturity_set = set(industries), set(tasks), set(maturities)
    return tuple(
        use_case
        for use_case in use_cases
        if (not industry_set or use_case.industry in industry_set)
        and (not task_set or task_set.intersection(use_case.tasks))
        and (not maturity_set or use_case.maturity in maturity_set)
    )


def to_table(use_cases: Iterable[UseCase], language: str = "en") -> pd.DataFrame:
    """A display table: one row per use case, its title in ``language`` (and, for an English reader,
    in the Chinese of the source documents), every label in ``language``. Column keys are stable
    English (marked; a page shows them with ``rename(columns=_)``), so sorting and search work on
    the labels the reader sees. A Chinese reader sees no English title: the Chinese one is already
    the source documents' own words."""
    rows = []
    for use_case in use_cases:
        demo = vocab.find_demo(use_case.demo_page)
        rows.append(
            {
                N_("id"): use_case.id,
                N_("industry"): vocab.find_term(vocab.INDUSTRIES, use_case.industry).label(language),
                N_("use case"): use_case.title(language),
                **({} if language == "zh" else {N_("use case (other language)"): use_case.title("zh")}),
                N_("description"): use_case.description(language),
                N_("AI tasks"): ", ".join(
                    vocab.find_term(vocab.AI_TASKS, task).label(language) for task in use_case.tasks
                ),
                N_("tasks from"): vocab.find_term(vocab.TASK_BASES, use_case.task_basis).label(language),
                N_("maturity"): vocab.find_term(vocab.MATURITY, use_case.maturity).label(language),
                N_("sources"): "; ".join(f"{ref.label()} ({ref.status})" for ref in use_case.sources),
                N_("live demo"): _(demo.title) if demo else "",
            }
        )
    return pd.DataFrame(rows)
