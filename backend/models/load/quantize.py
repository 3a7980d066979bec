"""Optional int8 inference on CPU: dynamic quantisation of a model's Linear layers, and for the
chat model weight-only int8 (below; loaded by ``backend.models.load.int8_stream``).

``torch.ao.quantization.quantize_dynamic`` stores Linear weights as int8 and quantises
activations on the fly, so no calibration data is needed. The benchmarks (``benchmarks/RESULTS.md``)
measured 2-5x the batch throughput of float32/bfloat16 on this project's CPU demos; it is a setting
(``LSM_CPU_QUANTIZE=int8``), off by default, because answers can shift slightly and only real
weights can show by how much for a given model.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch

from backend.models import memory, safetensors_file
from backend.models.load import dtype_convert, mapped_pages


def quantize_int8(model: Any) -> Any:
    """``model`` with every ``torch.nn.Linear`` replaced by a dynamically quantised int8 one, as
    ``torch.ao.quantization.quantize_dynamic(model.float(), {torch.nn.Linear}, dtype=torch.qint8)``
    would (the same int8 weights, scales and outputs), but one layer at a time and without reading
    a weight through the file mapping it was loaded as.

    The loader loads the model in the checkpoint's own dtype (float32, float16 or bfloat16), so
    its tensors are views of the mmap'd file (``mapped_weights``). Each Linear weight is read from
    the file with plain reads a block of rows at a time (a half-precision block converted to
    float32, which dynamic int8 computes in), quantised, and its float tensor dropped; the half-
    precision tensors that stay float (embeddings, norms, convolutions) are read into float32 the
    same way. The peak is the int8 model, the float tensors it keeps (a float32 checkpoint's: only
    their touched pages) and one block. A weight that is not a clean view of a file (copied,
    converted, written) is quantised from the tensor itself, converted to float32 one layer at a
    time. Changed in place; returns ``model`` in eval mode.
    """
    model.eval()
    files = mapped_pages.MappedFiles()
    scratch = _Scratch()
    done: dict[int, torch.nn.Module] = {}
    with warnings.catch_warnings():
        # torch 2.13 announces that quantised tensors will move to torchao; they work as pinned.
        warnings.simplefilter("ignore", UserWarning)
        # Largest first: a layer's scratch then comes while few int8 layers exist yet, so the
        # peak is the finished model plus the smallest layers' scratch, not the largest's.
        slots = sorted(_dynamic_slots(model), key=lambda slot: -getattr(*slot).weight.numel())
        for parent, name in slots:
            linear = getattr(parent, name)
            if id(linear) not in done:  # a module reused under two names is quantised once
                span = None if _has_hooks(linear) else files.span_of(linear.weight)
                if span is None:
                    quantized = _dynamic_linear_from_module(linear)
                else:
                    # Read from the file: the pages the load touched through the mapping go first.
                    mapped_pages.drop_resident_pages(linear.weight)
                    quantized = _dynamic_linear_from_file(linear, span, scratch)
                done[id(linear)] = quantized
            setattr(parent, name, done[id(linear)])
            del linear
        buffer = scratch.rows_buffer(DYNAMIC_BLOCK_BYTES)
        del scratch, done, slots
        # The scratch's freed pages go back before the floats are converted, not after.
        memory.malloc_trim()
        _float32_from_files(model, files, buffer)
        del buffer
        # Whatever else stays float becomes float32 one tensor at a time (a float32 load: nothing).
        model.float()
    # The per-layer scratch and int8 staging are freed: hand the heap's free pages back, so the
    # process does not stay larger than its model.
    memory.malloc_trim()
    return model


def _float32_from_files(model: torch.nn.Module, files: mapped_pages.MappedFiles, buffer: torch.Tensor) -> None:
    """Every half-precision parameter and buffer that is a view of its file, now float32 read
    from the file with plain reads ``buffer`` at a time. Converted through the mapping instead,
    each tensor's stored pages would stay resident beside its float32 copy until the last view of
    the file is gone (a 120k-token embedding: 183 MB beside 367 MB)."""
    seen: set[int] = set()
    for module in model.modules():
        for tensor in [*module._parameters.values(), *module._buffers.values()]:
            if tensor is None or id(tensor) in seen or tensor.dtype not in (torch.float16, torch.bfloat16):
                continue
            seen.add(id(tensor))  # a tied tensor is converted once, and stays tied
            span = files.span_of(tensor)
            if span is None:
                continue  # model.float() converts it
            mapped_pages.drop_resident_pages(tensor)
            converted = torch.empty(tensor.shape, dtype=torch.float32)
            with open(span.path, "rb", buffering=0) as handle:
                dtype_convert.fill_converted(handle, span.offset, span.size, tensor.dtype, converted.view(-1), buffer)
            tensor.data = converted


# Float32 bytes of the rows read and quantised at a time: bounds the scratch of a tall weight
# (OPUS-MT's output layer, tied to its 65001 x 512 embedding, is 133 MB in float32).
DYNAMIC_BLOCK_BYTES = 2 * 2**20


def _dynamic_slots(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str]]:
    """Every place a module of exactly ``torch.nn.Linear``'s type sits, as (parent, attribute):
    the modules ``quantize_dynamic(model, {torch.nn.Linear})`` swaps (its qconfig goes by exact type)."""
    return [
        (parent, child_name)
        for parent in model.modules()
        for child_name, child in parent.named_children()
        if type(child) is torch.nn.Linear
    ]


def _has_hooks(module: torch.nn.Module) -> bool:
    # torch's own swap carries hooks over; such a layer takes that path.
    return bool(module._forward_pre_hooks or module._forward_hooks)


def _dynamic_linear_from_module(linear: torch.nn.Linear) -> torch.nn.Module:
    """torch's own conversion, on the layer as it is (float32 first, this layer only)."""
    from torch.ao.quantization import default_dynamic_qconfig, swap_module
    from torch.ao.quantization.quantization_mappings import get_default_dynamic_quant_module_mappings

    linear.float()
    linear.qconfig = default_dynamic_qconfig
    quantized = swap_module(linear, get_default_dynamic_quant_module_mappings(), {})
    del linear.qconfig
    return quantized


# Quantised engines whose Linear packing copies the int8 weight and keeps no reference to it.
_COPYING_ENGINES = ("x86", "fbgemm")


class _Scratch:
    """The buffers every layer read from a file reuses: a block of rows as stored, the same block
    in float32 (for a half-precision weight), and the int8 weight handed to the packer (which
    copies it into its own layout). Reused, not allocated per layer or block, so no freed holes
    pile up in the heap while the packed layers are allocated."""

    def __init__(self) -> None:
        self.rows = torch.empty(0, dtype=torch.uint8)
        self.float_rows = torch.empty(0, dtype=torch.float32)
        self.int8 = torch.empty(0, dtype=torch.int8)

    def rows_buffer(self, size: int) -> torch.Tensor:
        if self.rows.numel() < size:
            self.rows = torch.empty(0, dtype=torch.uint8)  # the old one goes first
            self.rows = torch.empty(size, dtype=torch.uint8)
        return self.rows[:size]

    def float32_rows(self, stored: torch.Tensor) -> torch.Tensor:
        """``stored`` (rows of a float weight) in float32: itself when it is float32 already."""
        if stored.dtype == torch.float32:
            return stored
        if self.float_rows.numel() < stored.numel():
            self.float_rows = torch.empty(0, dtype=torch.float32)
            self.float_rows = torch.empty(stored.numel(), dtype=torch.float32)
        return self.float_rows[: stored.numel()].view(stored.shape).copy_(stored)

    def quantized(self, shape: tuple[int, int], scale: float, zero_point: int) -> torch.Tensor:
        """An uninitialised qint8 tensor of ``shape``: on the reused int8 buffer where the packer
        copies the weight (fbgemm, behind the x86 engine), a new one where it keeps it (qnnpack,
        onednn: kept for unpacking, or packed at the first call)."""
        if torch.backends.quantized.engine not in _COPYING_ENGINES:
            return torch._empty_affine_quantized(shape, scale=scale, zero_point=zero_point, dtype=torch.qint8)
        size = shape[0] * shape[1]
        if self.int8.numel() < size or self.int8.numel() > 2 * size:
            # Layers come largest first: a buffer over twice this layer's size goes (and its pages
            # back to the system), so what stays to the end is about the last layers' size, not
            # the vocabulary projection's (OPUS-MT: 33 MB held beside the whole int8 model).
            shrinking = self.int8.numel() > size
            self.int8 = torch.empty(0, dtype=torch.int8)
            if shrinking:
                memory.malloc_trim()
            self.int8 = torch.empty(size, dtype=torch.int8)
        qtensor = torch._empty_affine_quantized((0,), scale=scale, zero_point=zero_point, dtype=torch.qint8)
        return qtensor.set_(self.int8.untyped_storage(), 0, shape, (shape[1], 1))


def _dynamic_linear_from_file(
    linear: torch.nn.Linear, span: mapped_pages.FileSpan, scratch: _Scratch
) -> torch.nn.Module:
    """``torch.ao.nn.quantized.dynamic.Linear.from_float(linear)`` with the weight read from
    ``span`` a block of rows at a time: the observer sees every block (its min and max are those
    of the whole weight), then each block is quantised with the whole weight's scale."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.nn.quantized.modules.utils import _clamp_weights
    from torch.ao.quantization import default_dynamic_qconfig

    weight = linear.weight
    rows, columns = weight.shape
    row_bytes = columns * weight.element_size()
    # Counted in float32, the dtype each block is quantised from: a half-precision block's
    # float32 copy then stays within the bound too.
    step = max(1, DYNAMIC_BLOCK_BYTES // (columns * 4))
    block = scratch.rows_buffer(min(rows, step) * row_bytes)
    starts = range(0, rows, step)
    with open(span.path, "rb", buffering=0) as handle:

        def rows_from(first: int) -> torch.Tensor:
            count = min(step, rows - first)
            raw = block[: count * row_bytes]
            safetensors_file.read_span(handle, span.offset + first * row_bytes, raw)
            return scratch.float32_rows(raw.view(weight.dtype).view(count, columns))

        def blocks() -> Iterator[tuple[int, torch.Tensor]]:
            for first in starts:
                yield first, rows_from(first)

        # A layer that fits in one block is read once, not once per pass.
        kept = [(0, rows_from(0))] if len(starts) == 1 else None
        observer = default_dynamic_qconfig.weight()
        for _, part in kept or blocks():
            observer(part)
        scale, zero_point = observer.calculate_qparams()
        qweight = scratch.quantized((rows, columns), float(scale), int(zero_point))
        values = _int8_view(qweight)  # written block by block
        for first, part in kept or blocks():
            quantized_part = torch.quantize_per_tensor(part, float(scale), int(zero_point), torch.qint8)
            # Its bytes as they are (``int_repr`` would copy them first).
            values[first : first + part.shape[0]] = _int8_view(quantized_part)
        del kept, values
    qweight = _clamp_weights(qweight, observer, scale, zero_point)
    # Built at 1 x 1 and given the real weight next: the constructor's placeholder weight (and its
    # packed copy) would otherwise be a second int8 copy of this layer.
    quantized = DynamicLinear(1, 1, dtype=torch.qint8)
    quantized.in_features, quantized.out_features = columns, rows
    bias = None if linear.bias is None else linear.bias.detach().float()
    quantized.set_weight_bias(qweight, bias)
    return quantized


def _int8_view(qtensor: torch.Tensor) -> torch.Tensor:
    """The int8 values of a contiguous qint8 tensor, sharing its memory."""
    return torch.empty(0, dtype=torch.int8).set_(qtensor.untyped_storage(), qtensor.storage_offset(), qtensor.shape)


def packed_weight_bytes(model: Any) -> int:
    """Bytes of the int8 weights, which ``model.parameters()`` no longer lists.

    From the layers' shapes: ``module.weight()`` would unpack a copy of every layer just to count
    it, and those freed copies would stay in the heap after a load.
    """
    return _dynamic_linear_bytes(model, lambda inputs: inputs)


def _dynamic_linear_bytes(model: Any, int8_columns: Callable[[int], int]) -> int:
    """Bytes of the dynamic Linear weights, an int8 layer counted as ``int8_columns(in_features)``
    bytes per output row (a float16 one at two bytes a weight)."""
    total = 0
    for module in model.modules():
        if isinstance(module, torch.ao.nn.quantized.dynamic.Linear):
            if module._packed_params.dtype == torch.qint8:
                total += module.out_features * int8_columns(module.in_features)
            else:
                total += module.in_features * module.out_features * 2
    return total


# fbgemm (behind torch's x86 engine) packs an int8 weight in blocks of 512 input features, so a
# layer holds out_features x (in_features rounded up to 512) bytes: a 1536 x 384 layer packs into
# 0.75 MB for its 0.56 MB of values (measured on AVX2, as a 1536 x 512 layer does). ConvNeXt's and
# DistilBERT's 96-768-wide inputs are padded by a third or more.
_FBGEMM_INPUT_BLOCK = 512


def packed_layout_bytes(model: Any) -> int:
    """Bytes the int8 Linear weights hold once packed: what stays resident, and so what a memory
    budget counts (``packed_weight_bytes`` counts their values)."""
    if torch.backends.quantized.engine not in _COPYING_ENGINES:
        return packed_weight_bytes(model)
    return _dynamic_linear_bytes(model, lambda inputs: -(-inputs // _FBGEMM_INPUT_BLOCK) * _FBGEMM_INPUT_BLOCK)


# --- Weight-only int8 for the chat model ----------------------------------------------------------
#
# One reply at a time reads every weight once per token, so a chat model on a CPU waits on memory:
# int8 weights halve what each token reads against bfloat16. Dynamic quantisation (above) needs
# float32 activations and so a float32 model; weight-only int8 keeps the model in bfloat16 and
# multiplies bfloat16 activations by int8 weights with one scale per output row, in torch's
# ``_weight_int8pack_mm`` kernel: the CPU kernel torchao's ``Int8WeightOnlyConfig`` dispatches to,
# called here directly (no tensor-subclass dispatch per call, no extra package pinned to a torch
# build). It is loaded tensor by tensor, so no bfloat16 or float32 copy of the model ever exists.

# torch._weight_int8pack_mm needs the input width to be a multiple of this.
_KERNEL_ALIGNMENT = 8
# Rows quantised at a time: bounds the float32 scratch of a large matrix (a tied vocabulary head).
_QUANTIZE_ROWS = 1024


def quantize_rows(weight: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``weight`` (out x in, any float dtype) as int8 with one ``dtype`` scale per row (symmetric,
    absmax / 127), quantised a block of rows at a time so the float32 scratch stays small."""
    rows = weight.shape[0]
    packed = torch.empty(weight.shape, dtype=torch.int8)
    scales = torch.empty(rows, dtype=dtype)
    for start in range(0, rows, _QUANTIZE_ROWS):
        # One float32 block, changed in place: the scratch is one block, not one per operation.
        block = weight[start : start + _QUANTIZE_ROWS].to(torch.float32, copy=True)
        # Rounded to the stored dtype first, so the kernel multiplies by the scale used here.
        # The absolute maximum from the two extremes: ``block.abs()`` would be a second block.
        absmax = torch.maximum(block.amax(dim=1), block.amin(dim=1).neg_())
        scale = (absmax / 127).clamp_(min=1e-12).to(dtype)
        block.div_(scale.float()[:, None]).round_().clamp_(-127, 127)
        packed[start : start + _QUANTIZE_ROWS] = block
        scales[start : start + _QUANTIZE_ROWS] = scale
        del block
    return packed, scales


def int8_matmul(
    flat: torch.Tensor, weight_int8: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """``flat`` (rows x in) times the int8 ``weight_int8`` (out x in, one scale per row), in the
    scales' dtype; the one home of the int8 product, for the layers and the compact decoder."""
    if flat.dtype != scales.dtype:
        flat = flat.to(scales.dtype)
    if weight_int8.shape[1] % _KERNEL_ALIGNMENT == 0:
        out = torch._weight_int8pack_mm(flat, weight_int8, scales)
    else:
        # The kernel reads the input in blocks of 8 and crashes or miscomputes otherwise
        # (seen on torch 2.13); such odd layers exist only in toy models, so dequantising is fine.
        out = torch.nn.functional.linear(flat, weight_int8.to(flat.dtype) * scales[:, None])
    return out if bias is None else out + bias


class Int8WeightOnlyLinear(torch.nn.Module):
    """A ``Linear`` whose weight is int8 (one scale per output row); inputs and outputs keep ``dtype``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        packed, scales = quantize_rows(weight, dtype)
        # Buffers, not parameters: nothing trains them, and state_dict still saves them.
        self.register_buffer("weight_int8", packed)
        self.register_buffer("scales", scales)
        self.bias = None if bias is None else torch.nn.Parameter(bias.detach().to(dtype), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = int8_matmul(x.reshape(-1, self.in_features), self.weight_int8, self.scales, self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _linear_slots(model: torch.nn.Module) -> dict[str, tuple[torch.nn.Module, str]]:
    """Every ``Linear`` to quantise, by qualified name, with its parent module and attribute name.

    An output head tied to the input embeddings is left out: it stays the (bfloat16) embedding
    table itself. An int8 copy would add a quarter of a small model's weights, and the int8 kernel
    is slower than a bfloat16 product for a matrix that tall (measured: benchmarks/RESULTS.md).
    """
    tied_head = tied_output_embeddings(model)
    slots = {}
    for parent_name, parent in model.named_modules():
        for child_name, child in parent.named_children():
            if isinstance(child, torch.nn.Linear) and child is not tied_head:
                slots[f"{parent_name}.{child_name}" if parent_name else child_name] = (parent, child_name)
    return slots


def tied_output_embeddings(model: torch.nn.Module) -> torch.nn.Module | None:
    """The output head when the model ties it to its input embeddings, else None."""
    config = getattr(model, "config", None)
    if config is None or not getattr(config.get_text_config(), "tie_word_embeddings", False):
        return None
    head = getattr(model, "get_output_embeddings", lambda: None)()
    return head if isinstance(head, torch.nn.Linear) else None


def quantize_weight_only_int8(model: torch.nn.Module, dtype: torch.dtype = torch.bfloat16) -> torch.nn.Module:
    """Replace every ``Linear`` of a loaded model (a tied head aside) with an
    ``Int8WeightOnlyLinear``, one at a time (each float weight is released as soon as its int8 copy
    exists). In place; returns ``model``."""
    for parent, name in _linear_slots(model).values():
        linear = getattr(parent, name)
        setattr(parent, name, Int8WeightOnlyLinear(linear.weight.detach(), linear.bias, dtype))
        del linear
    return model.eval()


def is_weight_only_int8(model: Any) -> bool:
    """Whether ``model`` holds weight-only int8 layers."""
    return isinstance(model, torch.nn.Module) and any(isinstance(m, Int8WeightOnlyLinear) for m in model.modules())


def weight_only_bytes(model: Any) -> int:
    """Bytes of a weight-only int8 model: its parameters and buffers, the int8 weights included."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)
