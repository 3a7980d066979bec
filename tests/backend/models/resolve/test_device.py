import torch

from backend.models.resolve import device as device_module
from backend.models.resolve.device import choose_device


def test_cpu_when_no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)
    info = choose_device("auto")
    assert info.kind == "cpu" and info.torch_device == "cpu" and info.half_dtype is None


def test_cuda_preferred_and_bf16_when_supported(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA H100")
    info = choose_device("auto")
    assert (info.kind, info.torch_device, info.name, info.half_dtype) == ("cuda", "cuda:0", "NVIDIA H100", "bfloat16")


def test_fp16_on_older_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Tesla T4")
    assert choose_device("auto").half_dtype == "float16"


def test_mps_after_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    assert choose_device("auto").kind == "mps"


def test_setting_overrides_auto(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "GPU")
    assert choose_device("cpu").kind == "cpu"


def test_unavailable_preference_falls_back_with_a_note(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    info = choose_device("cuda")
    assert info.kind == "cpu" and "not available" in info.note
    assert "Unknown device" in choose_device("tpu").note
