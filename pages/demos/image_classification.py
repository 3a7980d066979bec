"""Image classification: a photo in (sample, upload or camera), its top five labels out."""

import streamlit as st

from backend import uploads
from backend.config import get_settings
from backend.inference import image_classification
from backend.inference.batch import BatchRequest
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from pages.components import batch, demo, feedback
from pages.components.errors import user_errors

# Sample file stem -> button label in English and Chinese.
SAMPLE_LABELS = {
    "cat": "Cat · 猫",
    "coffee": "Coffee · 咖啡",
    "rocket": "Rocket · 火箭",
    "astronaut": "Astronaut · 宇航员",
}
SOURCES = ["Sample images", "Upload", "Camera"]


def _pick_sample(name: str) -> None:
    st.session_state["image_classification.sample"] = name
    st.session_state["image_classification.run_requested"] = True


st.title("Image classification")
st.caption(
    "The model names what it sees with its five most likely labels. Photos are turned upright from "
    f"their EXIF data; files that are not images, or over {uploads.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels, are refused."
)
model_ref = demo.pick_model(catalogue.IMAGE_CLASSIFICATION, "image_classification")
single, batch_tab = st.tabs(["One image", "Batch (several images)"])

with single:
    source = st.radio("Image from", SOURCES, horizontal=True, key="image_classification.source")
    picked = None  # the sample's name, or the uploaded / camera file
    clicked = False
    if source == "Sample images":
        samples = image_classification.sample_images()
        for column, path in zip(st.columns(len(samples) or 1), samples, strict=False):
            column.button(
                SAMPLE_LABELS.get(path.stem, path.stem),
                key=f"image_classification.example.{path.stem}",
                on_click=_pick_sample,
                args=(path.stem,),
                width="stretch",
            )
            column.image(str(path), width="stretch")
        picked = st.session_state.get("image_classification.sample")
    else:
        if source == "Upload":
            upload = st.file_uploader(
                "Image",
                type=[s.lstrip(".") for s in uploads.IMAGE_SUFFIXES],
                key="image_classification.upload",
                max_upload_size=uploads.upload_limit_mb(uploads.MAX_IMAGE_BYTES),
            )
        else:
            upload = st.camera_input("Take a photo", key="image_classification.camera")
        picked = upload
        clicked = st.button(
            "Classify",
            type="primary",
            key="image_classification.run",
            icon=":material/image_search:",
        )
    run = demo.run_requested("image_classification", clicked)
    if run and picked is None:
        st.warning(demo.NO_IMAGE, icon=":material/image:")
    elif run:
        with user_errors():
            if isinstance(picked, str):
                name, data = f"{picked}.jpg", image_classification.read_sample(picked)
            else:
                name, data = picked.name, uploads.read_upload(picked, uploads.MAX_IMAGE_BYTES)
            image = uploads.open_image(data, name, max_side=uploads.MODEL_IMAGE_SIDE)
            sample = f"sample:{picked}" if isinstance(picked, str) else None
            result = demo.answer(
                catalogue.IMAGE_CLASSIFICATION,
                model_ref,
                sample,
                lambda loaded: image_classification.classify_image(loaded, image, name),
            )
            if result is not None:
                st.session_state["image_classification.result"] = (image, result)

    shown = st.session_state.get("image_classification.result")
    if shown is None:
        st.info("Click a sample photo, or upload or take a photo and press **Classify**.", icon=":material/image:")
    else:
        image, result = shown
        image_column, chart_column = st.columns([2, 3])
        image_column.image(image, caption=result.prediction.name, width="stretch")
        with chart_column:
            top = result.prediction.top[0]
            st.subheader(f"{plain_markdown(top.label)} · {top.score:.1%}")
            demo.show_score_chart(
                {item.label: item.score for item in result.prediction.top}, "image_classification.chart"
            )
        demo.show_footer(result.footer)
        feedback.show_feedback(
            catalogue.IMAGE_CLASSIFICATION,
            result.footer.model,
            result.prediction.name,
            result.prediction.label,
            "image_classification",
        )

with batch_tab:
    files = st.file_uploader(
        "Images",
        type=[s.lstrip(".") for s in uploads.IMAGE_SUFFIXES],
        accept_multiple_files=True,
        key="image_classification.batch_files",
        max_upload_size=uploads.upload_limit_mb(uploads.MAX_IMAGE_BYTES),
        help=f"Up to {image_classification.MAX_IMAGES} images of up to {uploads.MAX_IMAGE_BYTES / 2**20:.0f} MB "
        f"each, {get_settings().upload_visitor_mb} MB in all; they are processed in batches of similar size.",
    )
    if not files:
        st.info(
            "Upload several images to classify them together; results come back as a CSV.", icon=":material/upload:"
        )
    elif model_ref and st.button(
        "Classify every image", key="image_classification.batch_run", icon=":material/table_view:"
    ):
        with user_errors():
            # Counted and sized from what the files declare, before any of them is read.
            declared = [(f.name, f.size) for f in files]
            uploads.check_declared_sizes(declared, image_classification.MAX_IMAGES, uploads.MAX_IMAGE_BYTES)
            request = BatchRequest(catalogue.IMAGE_CLASSIFICATION, model_ref, file_name=f"{len(files)} images")
            batch.submit_images(request, [(f.name, f.getvalue()) for f in files], "image_classification")
    batch.show_runs(catalogue.IMAGE_CLASSIFICATION, "image_classification", "image-classification-results.csv")
