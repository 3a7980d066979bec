"""Image-folder zips from Chinese Windows tools give the right class names, or a refusal in words."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from backend.errors import InvalidInputError
from backend.training.classifier.image_data import prepare_image_dataset


class _GbkNameInfo(zipfile.ZipInfo):
    """A member named in GBK without the UTF-8 flag, as Windows' zip tools in China write them."""

    def __init__(self, name: str):
        super().__init__(name.encode("gbk").decode("cp437"))
        self.raw = name.encode("gbk")

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own name
        return self.raw, self.flag_bits & ~0x800


def _png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, shade, shade)).save(buffer, format="PNG")
    return buffer.getvalue()


def _gbk_zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, name in enumerate(names):
            archive.writestr(_GbkNameInfo(name), _png(index * 7 % 256))
    return buffer.getvalue()


def test_gbk_folder_names_become_readable_class_names(tmp_path):
    names = [f"{label}/图{i}.png" for label in ("正面", "负面") for i in range(6)]
    dataset = prepare_image_dataset("图片.zip", _gbk_zip(names), tmp_path / "data")
    assert set(dataset.summary["classes"]) == {"正面", "负面"}


def test_folders_differing_only_in_case_cannot_overwrite_each_other(tmp_path):
    names = [f"cats/{i}.png" for i in range(6)] + [f"Cats/{i}.png" for i in range(6)]
    with pytest.raises(InvalidInputError, match="overwrite each other"):
        prepare_image_dataset("pets.zip", _gbk_zip(names), tmp_path / "data")


def test_gbk_names_that_are_also_valid_utf8_are_decided_with_the_rest_of_the_archive(tmp_path):
    # 猫 in GBK is the bytes C3 A8, which also read as UTF-8 "è"; 狗 is not valid UTF-8.
    names = [f"{label}/{i}.png" for label in ("猫", "狗") for i in range(6)]
    dataset = prepare_image_dataset("宠物.zip", _gbk_zip(names), tmp_path / "data")
    assert set(dataset.summary["classes"]) == {"猫", "狗"}
