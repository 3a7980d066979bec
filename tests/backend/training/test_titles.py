"""Every job task and training method the studio stores has one title, in both languages."""

from backend.i18n import use_language
from backend.training import titles
from backend.training.chat.params import CHAT_METHODS
from backend.training.classifier.params import METHODS, TASK_KINDS
from backend.training.common import CHAT, PREFERENCE
from backend.training.preference.params import PREFERENCE_METHODS


def test_every_stored_task_and_method_has_a_title():
    assert set(titles.JOB_TASK_TITLES) == {*TASK_KINDS, CHAT, PREFERENCE}
    assert set(titles.METHOD_TITLES) == {*METHODS, *CHAT_METHODS, *PREFERENCE_METHODS}


def test_titles_follow_the_language_and_unknown_words_stay_as_they_are():
    with use_language("zh"):
        assert titles.task_title("text") == "文本分类器"
        assert titles.method_title("fast") == "快速模式"
        assert titles.method_title("newer-method") == "newer-method"
    with use_language("en"):
        assert titles.method_title("full") == "full fine-tuning"
