"""The upload budget: per-session and overall bounds, checked and recorded in one step."""

from __future__ import annotations

import threading

from backend.upload_budget import UploadBudget

MB = 2**20


def test_a_session_is_refused_past_its_bound_with_the_bound_in_words():
    budget = UploadBudget(per_visitor_bytes=200 * MB, total_bytes=600 * MB)
    assert budget.try_hold("a", "f1", "one.png", 95 * MB) is None
    assert budget.try_hold("a", "f2", "two.png", 95 * MB) is None
    refusal = budget.try_hold("a", "f3", "three.png", 95 * MB)
    assert refusal is not None and refusal.file_id == "f3"
    assert "three.png (95 MB) was not kept" in refusal.reason
    assert (
        "200 MB per visitor (all your tabs together)" in refusal.reason and "190 MB are kept already" in refusal.reason
    )
    assert budget.held_by("a") == 190 * MB
    # Another session still has its own share.
    assert budget.try_hold("b", "g1", "x.png", 150 * MB) is None


def test_the_overall_bound_refuses_once_everyone_together_reaches_it():
    budget = UploadBudget(per_visitor_bytes=200 * MB, total_bytes=300 * MB)
    assert budget.try_hold("a", "f1", "a.zip", 150 * MB) is None
    assert budget.try_hold("b", "f1", "b.zip", 150 * MB) is None
    refusal = budget.try_hold("c", "f1", "c.zip", 1 * MB)
    assert refusal is not None and "at most 300 MB of uploads for all visitors" in refusal.reason
    budget.release_session("a")
    assert budget.try_hold("c", "f1", "c.zip", 100 * MB) is None
    assert budget.held_in_all() == 250 * MB


def test_a_file_sent_again_replaces_its_size_and_a_removed_file_frees_its_share():
    budget = UploadBudget(per_visitor_bytes=100 * MB, total_bytes=100 * MB)
    assert budget.try_hold("a", "f1", "a.csv", 60 * MB) is None
    assert budget.try_hold("a", "f1", "a.csv", 90 * MB) is None
    assert budget.held_by("a") == 90 * MB
    budget.release("a", "f1")
    assert budget.held_by("a") == 0 and budget.held_in_all() == 0


def test_parallel_uploads_cannot_pass_the_bound_together():
    budget = UploadBudget(per_visitor_bytes=10 * MB, total_bytes=10 * MB)
    start = threading.Barrier(20)
    kept: list[bool] = []

    def upload(index: int) -> None:
        start.wait()
        kept.append(budget.try_hold("a", f"f{index}", "x", 1 * MB) is None)

    threads = [threading.Thread(target=upload, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kept.count(True) == 10
    assert budget.held_in_all() == 10 * MB


def test_new_tabs_from_one_address_share_one_visitor_budget():
    budget = UploadBudget(per_visitor_bytes=200 * MB, total_bytes=600 * MB)
    for tab in range(3):
        budget.note_address(f"tab{tab}", "203.0.113.7")
    assert budget.try_hold("tab0", "f", "a.zip", 100 * MB) is None
    assert budget.try_hold("tab1", "f", "b.zip", 100 * MB) is None
    refusal = budget.try_hold("tab2", "f", "c.zip", 100 * MB)
    assert refusal is not None and "200 MB per visitor (all your tabs together)" in refusal.reason
    # Another address still has the rest of the overall bound.
    budget.note_address("other", "198.51.100.9")
    assert budget.try_hold("other", "f", "d.zip", 200 * MB) is None
    budget.release_session("tab0")
    assert budget.try_hold("tab2", "f", "c.zip", 100 * MB) is None
