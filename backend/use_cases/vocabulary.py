"""Controlled vocabularies of the use-case catalogue: industries, AI tasks, maturity, sources, demos.

The catalogue file may only use the keys defined here, so the heatmap's rows and columns, the
filters and the search index all agree. Labels come in English and Chinese because the source
documents are Chinese and the app serves both languages.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.i18n import N_
from backend.records import JsonRecord


@dataclass(frozen=True)
class Term(JsonRecord):
    """One vocabulary entry: a stable key and its labels in both languages."""

    key: str
    en: str
    zh: str

    def label(self, language: str = "en") -> str:
        """The label in ``language`` ("en" or "zh"); English for anything else."""
        return self.zh if language == "zh" else self.en


# Application domains in the order the source documents' own lists use (§1.x of the seed notes):
# the four technical domains every document names first, then sectors by how many documents name them.
INDUSTRIES: tuple[Term, ...] = (
    Term("nlp", "Natural language processing", "自然语言处理"),
    Term("vision", "Computer vision", "计算机视觉"),
    Term("speech", "Speech", "语音"),
    Term("recommendation", "Recommender systems", "推荐系统"),
    Term("healthcare", "Healthcare", "医疗健康"),
    Term("finance", "Finance", "金融"),
    Term("education", "Education", "教育"),
    Term("manufacturing", "Manufacturing", "制造业"),
    Term("autonomous-driving", "Autonomous driving", "自动驾驶"),
    Term("smart-city", "Smart city & transport", "智慧城市与交通"),
    Term("entertainment", "Entertainment & games", "娱乐与游戏"),
    Term("iot-edge", "IoT & edge devices", "物联网与边缘设备"),
    Term("cross-industry", "Cross-industry", "跨行业"),
)

# AI tasks, grouped text / vision / speech / prediction so the heatmap's columns read in blocks.
AI_TASKS: tuple[Term, ...] = (
    Term("text-classification", "Text classification", "文本分类"),
    Term("sentiment-analysis", "Sentiment analysis", "情感分析"),
    Term("entity-recognition", "Entity recognition", "实体识别"),
    Term("translation", "Translation", "机器翻译"),
    Term("text-generation", "Text generation", "文本生成"),
    Term("question-answering", "Question answering", "问答"),
    Term("summarization", "Summarisation", "文本摘要"),
    Term("image-classification", "Image classification", "图像分类"),
    Term("object-detection", "Object detection", "目标检测"),
    Term("image-segmentation", "Image segmentation", "图像分割"),
    Term("image-generation", "Image generation", "图像生成"),
    Term("speech-recognition", "Speech recognition", "语音识别"),
    Term("speech-synthesis", "Speech synthesis", "语音合成"),
    Term("recommendation", "Recommendation", "推荐"),
    Term("forecasting", "Forecasting", "预测"),
    Term("anomaly-detection", "Anomaly detection", "异常检测"),
    Term("tabular-classification", "Tabular classification & scoring", "表格数据分类与评分"),
    Term("planning-decision", "Planning & decision-making", "规划与决策"),
)

# The seed notes' status letters: how a document presents a use case.
CURRENT = "C"
FUTURE = "F"
TREND = "T"
MATURITY: tuple[Term, ...] = (
    Term(CURRENT, "Current application", "现有应用"),
    Term(FUTURE, "Future / emerging application", "未来应用"),
    Term(TREND, "Named only as a trend", "仅作为趋势提及"),
)

# How the row's tasks were obtained: named by the documents, mapped by us, or not given at all.
STATED = "stated"
INFERRED = "inferred"
NO_TASKS = "none"
TASK_BASES: tuple[Term, ...] = (
    Term(STATED, "Tasks named by the documents", "文档明确提到的任务"),
    Term(INFERRED, "Tasks mapped by the catalogue's editors", "编者归纳的任务"),
    Term(NO_TASKS, "The documents give no task", "文档未说明任务"),
)

# The five source documents (in /work/shared/seeds, shipped to the team as 000_… to 004_…).
DOCUMENTS: tuple[Term, ...] = (
    Term("000", "Large models: technical innovation and market promotion", "大模型的技术创新与市场推广"),
    Term("001", "Large models will be widely applied across all industries", "大模型将广泛应用于各行各业"),
    Term("002", "Large models and representative models", "大模型与代表性模型"),
    Term("003", "Market demand and technical potential of large models", "大模型的市场需求与技术潜力"),
    Term("004", "Large-model application strategy of AI start-ups", "AI 创业公司的大模型应用策略"),
)
DOCUMENT_FILES: dict[str, str] = {
    "000": "000_c6ef231d2b623d33.txt",
    "001": "001_e7b424b887c2f18c.txt",
    "002": "002_f0718e1a05002c7b.txt",
    "003": "003_8c997303fb015416.txt",
    "004": "004_64e507d4991ce8cf.txt",
}


@dataclass(frozen=True)
class DemoPage:
    """A page of the app that shows a use case's core task at work."""

    path: str
    title: str
    shows: str


# Every page the catalogue may link to (title and what it shows in English, shown translated). They are built by other parts of the project; the page
# links only those registered in the navigation and marks any other as coming soon.
DEMO_PAGES: tuple[DemoPage, ...] = (
    DemoPage("pages/demos/sentiment.py", N_("Sentiment demo"), N_("live sentiment analysis in English and Chinese")),
    DemoPage("pages/demos/translation.py", N_("Translation demo"), N_("live machine translation (en, zh, de, fr)")),
    DemoPage(
        "pages/demos/image_classification.py", N_("Image classification demo"), N_("live ImageNet classification")
    ),
    DemoPage(
        "pages/demos/text_generation.py", N_("Text generation demo"), N_("a live chat model that writes and answers")
    ),
    DemoPage(
        "pages/finetune/new_job.py",
        N_("Train your own classifier"),
        N_("fine-tuning on your own labelled texts or images"),
    ),
)


def term_keys(terms: tuple[Term, ...]) -> tuple[str, ...]:
    """The keys of a vocabulary, in order."""
    return tuple(term.key for term in terms)


def find_term(terms: tuple[Term, ...], key: str) -> Term:
    """The entry with ``key``; KeyError naming the allowed keys otherwise."""
    for term in terms:
        if term.key == key:
            return term
    raise KeyError(f"{key!r} is not one of: {', '.join(term_keys(terms))}")


def find_demo(path: str) -> DemoPage | None:
    """The demo page at ``path``, or None when the catalogue knows no such page."""
    return next((page for page in DEMO_PAGES if page.path == path), None)
