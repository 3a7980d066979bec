"""Image classification: a photo in (sample, upload or camera), its top five labels out."""

import streamlit as st

from backend import uploads
from backend.config import get_settings
from backend.i18n import N_, _
from backend.inference import image_classification
from backend.inference.batch import BatchRequest
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from pages.components import batch, demo, feedback
from pages.components.errors import user_errors

# Sample file stem -> button label (shown translated).
SAMPLE_LABELS = {"cat": N_("Cat"), "coffee": N_("Coffee"), "rocket": N_("Rocket"), "astronaut": N_("Astronaut")}
# Where the image comes from: the widget's stable value -> its label (shown translated).
SOURCES = {"samples": N_("Sample images"), "upload": N_("Upload"), "camera": N_("Camera")}
# Widths that keep the picked photo, its labels and the run's footer on one 1920x1080 screen
# (and a phone's column wide enough for both).
_THUMBNAIL_PX = 150
_ANSWER_IMAGE_PX = 320


def _pick_sample(name: str) -> None:
    st.session_state["image_classification.sample"] = name
    st.session_state["image_classification.run_requested"] = True


st.title(_("Image classification"))
st.caption(
    _(
        "The model names what it sees with its five most likely labels. Photos are turned upright "
        "from their EXIF data; files that are not images, or over {MAX_IMAGE_PIXELS:.0f} "
        "megapixels, are refused."
    ).format(MAX_IMAGE_PIXELS=uploads.MAX_IMAGE_PIXELS / 1e6)
)
model_ref = demo.pick_model(catalogue.IMAGE_CLASSIFICATION, "image_classification")
single, batch_tab = st.tabs([_("One image"), _("Batch (several images)")])

with single:
    source = st.radio(
        _("Image from"),
        list(SOURCES),
        format_func=lambda choice: _(SOURCES[choice]),
        horizontal=True,
        key="image_classification.source",
    )
    picked = None  # the sample's name, or the uploaded / camera file
    clicked = False
    if source == "samples":
        samples = image_classification.sample_images()
        for column, path in zip(st.columns(len(samples) or 1), samples, strict=False):
            column.button(
                _(SAMPLE_LABELS[path.stem]) if path.stem in SAMPLE_LABELS else path.stem,
                key=f"image_classification.example.{path.stem}",
                on_click=_pick_sample,
                args=(path.stem,),
                width="stretch",
            )
            # Thumbnails: at full column width the four samples took a third of a projector's screen
            # and pushed the answer below it.
            column.image(str(path), width=_THUMBNAIL_PX)
        picked = st.session_state.get("image_classification.sample")
    else:
        if source == "upload":
            upload = st.file_uploader(
                _("Image"),
                type=[s.lstrip(".") for s in uploads.IMAGE_SUFFIXES],
                key="image_classification.upload",
                max_upload_size=uploads.upload_limit_mb(uploads.MAX_IMAGE_BYTES),
            )
        else:
            upload = st.camera_input(_("Take a photo"), key="image_classification.camera")
        picked = upload
        clicked = st.button(
            _("Classify"),
            type="primary",
            key="image_classification.run",
            icon=":material/image_search:",
        )
    run = demo.run_requested("image_classification", clicked)
    if run and picked is None:
        st.warning(_(demo.NO_IMAGE), icon=":material/image:")
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
        if not run:  # a run asked for says what became of it instead
            st.info(
                _("Click a sample photo, or upload or take a photo and press **Classify**."), icon=":material/image:"
            )
    else:
        image, result = shown
        image_column, chart_column = st.columns([2, 3])
        image_column.image(image, caption=result.prediction.name, width=_ANSWER_IMAGE_PX)
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
        _("Images"),
        type=[s.lstrip(".") for s in uploads.IMAGE_SUFFIXES],
        accept_multiple_files=True,
        key="image_classification.batch_files",
        max_upload_size=uploads.upload_limit_mb(uploads.MAX_IMAGE_BYTES),
        help=_(
            "Up to {MAX_IMAGES} images of up to {MAX_IMAGE_BYTES:.0f} MB each, {upload_visitor_mb} MB "
            "in all; they are processed in batches of similar size."
        ).format(
            MAX_IMAGES=image_classification.MAX_IMAGES,
            MAX_IMAGE_BYTES=uploads.MAX_IMAGE_BYTES / 2**20,
            upload_visitor_mb=get_settings().upload_visitor_mb,
        ),
    )
    if not files:
        st.info(
            _("Upload several images to classify them together; results come back as a CSV."), icon=":material/upload:"
        )
    elif model_ref and st.button(
        _("Classify every image"), key="image_classification.batch_run", icon=":material/table_view:"
    ):
        with user_errors():
            # Counted and sized from what the files declare, before any of them is read.
            declared = [(f.name, f.size) for f in files]
            uploads.check_declared_sizes(declared, image_classification.MAX_IMAGES, uploads.MAX_IMAGE_BYTES)
            request = BatchRequest(catalogue.IMAGE_CLASSIFICATION, model_ref, file_name=f"{len(files)} images")
            batch.submit_images(request, [(f.name, f.getvalue()) for f in files], "image_classification")
    batch.show_runs(catalogue.IMAGE_CLASSIFICATION, "image_classification", "image-classification-results.csv")
