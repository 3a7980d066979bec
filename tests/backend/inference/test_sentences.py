"""Sentence splitting and re-joining for translation."""

from backend.inference.sentences import Segment, join_sentences, split_sentences


def _texts(text, **kwargs):
    return [segment.text for segment in split_sentences(text, **kwargs)]


def test_english_sentences_split_at_end_marks_followed_by_space():
    assert _texts("It works. Does it? Yes! 3.14 is pi.") == ["It works.", "Does it?", "Yes!", "3.14 is pi."]


def test_chinese_sentences_split_without_spaces_and_keep_closing_quotes():
    assert _texts("我很喜欢。你呢？“好的！”最后一句") == ["我很喜欢。", "你呢？", "“好的！”", "最后一句"]


def test_paragraphs_are_numbered_by_line_and_blank_lines_kept_on_join():
    segments = split_sentences("First. Second.\n\n第三。")
    assert [(s.paragraph, s.text) for s in segments] == [(0, "First."), (0, "Second."), (2, "第三。")]
    joined = join_sentences(segments, ["Erste.", "Zweite.", "Third."], "de")
    assert joined == "Erste. Zweite.\n\nThird."


def test_long_sentences_are_cut_at_clauses_then_spaces():
    sentence = "alpha beta, " * 10 + "gamma " * 40
    pieces = _texts(sentence.strip(), max_chars=50)
    assert all(len(piece) <= 50 for piece in pieces)
    assert " ".join(pieces).split() == sentence.split()


def test_join_uses_no_spaces_for_chinese_targets():
    segments = [Segment(0, "One."), Segment(0, "Two.")]
    assert join_sentences(segments, ["一。", "二。"], "zh") == "一。二。"
    assert join_sentences(segments, ["Un.", "Deux."], "fr") == "Un. Deux."
