"""The harness times each path alone: another path's threads, left spinning by their runtime after
a run, are quiet before the clock starts (``benchmarks.measure.timed``), so in-run ratios agree
with paths timed alone."""

from __future__ import annotations

import threading

import pytest
import torch

from benchmarks import measure

_RUNS = 8


def _spinning_session():
    """A spin-prone path: an ONNX Runtime session with two intra-op threads, spinning after each
    run as ONNX Runtime does by default (the app's own sessions turn that off)."""
    onnxruntime = pytest.importorskip("onnxruntime")
    helper = pytest.importorskip("onnx.helper")
    import onnx

    width = 384
    weight = onnx.numpy_helper.from_array(torch.randn(width, width).numpy(), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "spin",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [width, width])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [width, width])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2  # a pool with a thread of its own, on any host
    known = set(measure.thread_cpu_ns())
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    inputs = {"x": torch.randn(width, width).numpy()}
    session.run(None, inputs)
    own = set(measure.thread_cpu_ns()) - known - {threading.get_native_id()}
    assert own, "ONNX Runtime started no threads of its own"
    return (lambda: session.run(None, inputs)), own


def _torch_path() -> None:
    a = torch.randn(256, 256)
    for _ in range(20):
        a = torch.tanh(a @ a)


def _their_cpu_during(call, threads: set[int]) -> tuple[float, float]:
    """CPU seconds ``threads`` used while ``call`` ran, and the seconds ``call`` took."""
    window: dict[str, dict[int, int]] = {}

    def watched() -> None:
        window["before"] = measure.thread_cpu_ns()
        call()
        window["after"] = measure.thread_cpu_ns()

    seconds, _ = measure.timed(watched)
    used = sum(window["after"].get(t, 0) - window["before"].get(t, 0) for t in threads)
    return used / 1e9, seconds


def test_a_path_is_timed_once_the_other_paths_spinning_threads_are_quiet():
    other_path, its_threads = _spinning_session()
    timed_alone = []
    for _ in range(_RUNS):
        other_path()
        timed_alone.append(_their_cpu_during(_torch_path, its_threads))
    # The same order without the harness's wait: the other path's threads do spin into the next
    # path (what made in-run ratios disagree with paths timed alone), so the check above can fail.
    untimed = []
    for _ in range(_RUNS):
        other_path()
        before = measure.thread_cpu_ns()
        _torch_path()
        after = measure.thread_cpu_ns()
        untimed.append(sum(after.get(t, 0) - before.get(t, 0) for t in its_threads) / 1e9)
    spun = sum(untimed)
    during_timed = sum(used for used, _ in timed_alone)
    assert spun > 0.005, f"the spin-prone path did not spin here ({spun * 1000:.1f} ms of CPU); nothing was tested"
    assert during_timed < spun / 10, (during_timed, spun)


def test_the_wait_gives_up_on_a_thread_that_never_idles():
    stop = threading.Event()
    busy = threading.Thread(target=lambda: [None for _ in iter(stop.is_set, True)], daemon=True)
    busy.start()
    try:
        assert measure.wait_for_quiet_threads(limit_seconds=0.05) is False
    finally:
        stop.set()
        busy.join()
    assert measure.wait_for_quiet_threads(limit_seconds=1.0) is True
