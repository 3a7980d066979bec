"""Image zips: both layouts, and every hostile or broken archive refused with its message."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from backend.errors import InvalidInputError
from backend.i18n import use_language
from backend.training.classifier.image_data import prepare_image_dataset
from tests.support.training_data import colour_folders_zip, colour_image, image_zip
from tests.support.translation_marks import wrap_every_translation


def _colour_files(per_class: int = 6, prefix: str = "") -> dict[str, bytes]:
    return {
        f"{prefix}{label}/{i}.png": colour_image(rgb, seed=i + 100 * n)
        for n, (label, rgb) in enumerate((("red", (220, 30, 30)), ("blue", (30, 30, 220))))
        for i in range(per_class)
    }


def test_folder_per_class_layout(tmp_path):
    prepared = prepare_image_dataset("colours.zip", colour_folders_zip(per_class=10), tmp_path)
    assert prepared.classes == ["blue", "red"]
    assert len(prepared.train) == 16 and len(prepared.validation) == 4
    assert all((tmp_path / path).is_file() for path in prepared.train.inputs)
    assert prepared.summary["layout"] == "one folder per class"


def test_a_shared_top_folder_is_skipped(tmp_path):
    prepared = prepare_image_dataset("wrapped.zip", image_zip(_colour_files(prefix="my photos/")), tmp_path)
    assert prepared.classes == ["blue", "red"]


def test_csv_of_file_names_and_labels(tmp_path):
    files = {f"img/{i}.png": colour_image((200, 0, 0) if i % 2 else (0, 0, 200), seed=i) for i in range(12)}
    files["labels.csv"] = (
        "filename,label\n" + "\n".join(f"img/{i}.png,{'red' if i % 2 else 'blue'}" for i in range(12))
    ).encode()
    files["img/extra.png"] = colour_image((0, 200, 0), seed=99)
    prepared = prepare_image_dataset("csv.zip", image_zip(files), tmp_path)
    assert prepared.classes == ["blue", "red"]
    assert prepared.summary["layout"] == "CSV of file names"
    assert len(prepared.train) + len(prepared.validation) == 12
    assert "1 image is not in labels.csv and was left out: img/extra.png." in prepared.warnings


def test_csv_naming_missing_files_is_refused(tmp_path):
    files = {f"img/{i}.png": colour_image((200, 0, 0), seed=i) for i in range(4)}
    files["labels.csv"] = b"file,label\nimg/0.png,a\nimg/missing.png,b\n"
    with pytest.raises(InvalidInputError, match=r"lists 1 file that is not in the zip: img/missing.png"):
        prepare_image_dataset("csv.zip", image_zip(files), tmp_path)


def test_csv_pointing_outside_the_archive_is_refused(tmp_path):
    files = {"img/0.png": colour_image((200, 0, 0), seed=0), "labels.csv": b"file,label\n../../etc/passwd,a\n"}
    with pytest.raises(InvalidInputError, match="names files outside the archive"):
        prepare_image_dataset("csv.zip", image_zip(files), tmp_path)


def test_zip_slip_is_refused(tmp_path):
    files = _colour_files()
    files["../../escape.png"] = colour_image((0, 0, 0), seed=1)
    with pytest.raises(InvalidInputError, match="tries to write outside its folder"):
        prepare_image_dataset("slip.zip", image_zip(files), tmp_path / "data")
    assert not (tmp_path / "escape.png").exists()


def test_zip_bomb_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("red/big.png", b"\0" * (50 * 2**20))
    with pytest.raises(InvalidInputError, match="zip bomb"):
        prepare_image_dataset("bomb.zip", buffer.getvalue(), tmp_path)


def test_not_a_zip_is_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="is not a zip archive"):
        prepare_image_dataset("photos.zip", b"PK but not really a zip file at all", tmp_path)


def test_files_pretending_to_be_images_are_refused(tmp_path):
    files = _colour_files()
    files["red/fake.jpg"] = b"this is a text file with an image name"
    with pytest.raises(InvalidInputError, match=r"1 file is not an image this app can read: red/fake.jpg"):
        prepare_image_dataset("fake.zip", image_zip(files), tmp_path)


def test_other_files_are_ignored_with_a_warning(tmp_path):
    files = _colour_files()
    files["red/notes.txt"] = b"taken on holiday"
    prepared = prepare_image_dataset("notes.zip", image_zip(files), tmp_path)
    assert any("Ignored 1 file that is not an image: red/notes.txt" in w for w in prepared.warnings)
    assert not (tmp_path / "upload" / "red" / "notes.txt").exists()


def test_a_zip_cannot_smuggle_a_model_into_the_demo_pickers(tmp_path, settings):
    from backend.model_registry import list_local_models

    files = _colour_files()
    files["fake-model/config.json"] = b'{"model_type": "bert"}'
    files["fake-model/showcase.json"] = b'{"task": "sentiment", "title": "Smuggled", "owner": ""}'
    run_dir = settings.runs_dir / "smuggle-test"
    prepare_image_dataset("smuggle.zip", image_zip(files), run_dir / "data")
    assert "Smuggled" not in [m.title for m in list_local_models("sentiment", settings=settings)]


def test_oversized_images_are_refused(tmp_path):
    files = _colour_files()
    big = io.BytesIO()
    Image.new("RGB", (300, 300), (255, 0, 0)).save(big, format="PNG")
    files["red/huge.png"] = big.getvalue()
    with pytest.raises(InvalidInputError, match=r"1 image is too large.*red/huge.png"):
        prepare_image_dataset("huge.zip", image_zip(files), tmp_path, max_pixels=200 * 200)


def test_images_outside_class_folders_are_refused(tmp_path):
    files = _colour_files()
    files["loose.png"] = colour_image((1, 2, 3), seed=5)
    with pytest.raises(InvalidInputError, match=r"not inside a class folder \(loose.png\)"):
        prepare_image_dataset("loose.zip", image_zip(files), tmp_path)


def test_one_class_and_rare_classes_are_refused(tmp_path):
    one = {f"red/{i}.png": colour_image((200, 0, 0), seed=i) for i in range(8)}
    with pytest.raises(InvalidInputError, match="Only one class"):
        prepare_image_dataset("one.zip", image_zip(one), tmp_path / "one")
    rare = {**one, "blue/0.png": colour_image((0, 0, 200), seed=0)}
    with pytest.raises(InvalidInputError, match=r"'blue' \(1\)"):
        prepare_image_dataset("rare.zip", image_zip(rare), tmp_path / "rare")


def test_the_same_image_under_two_labels_is_refused(tmp_path):
    files = _colour_files()
    files["blue/copy.png"] = files["red/0.png"]
    with pytest.raises(InvalidInputError, match="1 image appears under two different labels"):
        prepare_image_dataset("dupes.zip", image_zip(files), tmp_path)


def test_every_check_speaks_the_language_of_whoever_checks_the_data(tmp_path, monkeypatch):
    # Under a catalogue that wraps what it translates, a message built without it shows unwrapped.
    wrap_every_translation(monkeypatch)
    files = {**_colour_files(), "red/notes.txt": b"not an image", "blue/copy.png": _colour_files()["blue/0.png"]}
    with use_language("zh"):
        prepared = prepare_image_dataset("colours.zip", image_zip(files), tmp_path / "kept")
        with pytest.raises(InvalidInputError) as refused:
            prepare_image_dataset(
                "loose.zip", image_zip({"loose.png": colour_image((0, 0, 0), seed=1)}), tmp_path / "loose"
            )
    # The ignored text file, the removed duplicate, two classes of few images; and the split.
    assert len(prepared.warnings) == 3, prepared.warnings
    assert all(warning.startswith("‹") for warning in prepared.warnings), prepared.warnings
    assert prepared.summary["validation_source"].startswith("‹")
    assert "(1) ‹1 image is not inside a class folder (loose.png)" in refused.value.user_text()
