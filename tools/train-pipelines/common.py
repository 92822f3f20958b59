"""Helpers shared by mmedge.py and cbnet.py.

- seeding and thread setup (the machine's 2 cores are shared with a C# build);
- a multiply-add counter for the layer types these scripts use;
- ONNX export with checker, shape inference and an I/O summary;
- a small numpy interpreter for the ONNX operators our exported graphs contain.
  There is no onnxruntime for Python on the build machine, so this is how the
  exported graphs (not just the torch modules) are checked numerically.
"""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
OPSET = 17


def setup(seed: int, threads: int = 2) -> None:
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Timer:
    def __init__(self):
        self.t0 = time.time()

    def __call__(self) -> str:
        return f"{time.time() - self.t0:7.1f}s"


# ---------------------------------------------------------------------------
# Multiply-add counting (convolutions, linear layers and GRU matrix products;
# element-wise ops, norms, pooling and activations are not counted).
# ---------------------------------------------------------------------------
def count_macs(module: nn.Module, *inputs) -> int:
    total = [0]
    hooks = []

    def conv_hook(m, inp, out):
        k = int(np.prod(m.kernel_size))
        total[0] += out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m, inp, out):
        rows = inp[0].numel() // m.in_features
        total[0] += rows * m.in_features * m.out_features

    def gru_hook(m, inp, out):
        x = inp[0]
        steps = x.shape[1] * x.shape[0] if m.batch_first else x.shape[0] * x.shape[1]
        total[0] += steps * 3 * (m.input_size * m.hidden_size + m.hidden_size * m.hidden_size)

    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, nn.GRU):
            hooks.append(m.register_forward_hook(gru_hook))
    was_training = module.training
    module.eval()
    with torch.no_grad():
        module(*inputs)
    module.train(was_training)
    for h in hooks:
        h.remove()
    return int(total[0])


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------
def _dims(value_info) -> list:
    dims = []
    for d in value_info.type.tensor_type.shape.dim:
        dims.append(d.dim_param if d.dim_param else d.dim_value)
    return dims


def describe(path: Path) -> str:
    m = onnx.load(str(path))
    ins = ", ".join(f"{i.name}{_dims(i)}" for i in m.graph.input)
    outs = ", ".join(f"{o.name}{_dims(o)}" for o in m.graph.output)
    ops = sorted({n.op_type for n in m.graph.node})
    size = path.stat().st_size
    return f"{path.name:28s} {size/1024:8.1f} KiB  in: {ins}  out: {outs}  ops: {' '.join(ops)}"


def export(model: nn.Module, args: tuple, path: Path, input_names, output_names, dynamic_axes) -> None:
    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(model, args, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)


# ---------------------------------------------------------------------------
# numpy reference interpreter (only the operators our exports use)
# ---------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _conv(x, w, b, strides, pads, dilations, group):
    assert group == 1, "grouped convolution not needed here"
    nsp = x.ndim - 2
    n, c = x.shape[:2]
    ksz = w.shape[2:]
    pad_width = [(0, 0), (0, 0)] + [(pads[i], pads[i + nsp]) for i in range(nsp)]
    xp = np.pad(x, pad_width)
    out_sz = [(xp.shape[2 + i] - dilations[i] * (ksz[i] - 1) - 1) // strides[i] + 1 for i in range(nsp)]
    # im2col: gather [n, c, *k, *out]
    cols = np.empty((n, c) + tuple(ksz) + tuple(out_sz), dtype=np.float64)
    for kidx in np.ndindex(*ksz):
        sl = [slice(None), slice(None)]
        for i in range(nsp):
            start = kidx[i] * dilations[i]
            sl.append(slice(start, start + strides[i] * (out_sz[i] - 1) + 1, strides[i]))
        cols[(slice(None), slice(None)) + kidx] = xp[tuple(sl)]
    cols = cols.reshape(n, c * int(np.prod(ksz)), -1)
    y = np.einsum("mk,nkl->nml", w.reshape(w.shape[0], -1).astype(np.float64), cols)
    if b is not None:
        y = y + b.reshape(1, -1, 1)
    return y.reshape((n, w.shape[0]) + tuple(out_sz))


def _maxpool(x, kernel, strides, pads):
    nsp = x.ndim - 2
    pad_width = [(0, 0), (0, 0)] + [(pads[i], pads[i + nsp]) for i in range(nsp)]
    xp = np.pad(x, pad_width, constant_values=-np.inf)
    out_sz = [(xp.shape[2 + i] - kernel[i]) // strides[i] + 1 for i in range(nsp)]
    y = np.full(x.shape[:2] + tuple(out_sz), -np.inf)
    for kidx in np.ndindex(*kernel):
        sl = [slice(None), slice(None)]
        for i in range(nsp):
            sl.append(slice(kidx[i], kidx[i] + strides[i] * (out_sz[i] - 1) + 1, strides[i]))
        y = np.maximum(y, xp[tuple(sl)])
    return y


def _gru(inputs, a):
    x, w, r = inputs[0], inputs[1], inputs[2]
    b = inputs[3] if len(inputs) > 3 and inputs[3] is not None else np.zeros((w.shape[0], 2 * w.shape[1]))
    seq_lens = inputs[4] if len(inputs) > 4 else None
    h0 = inputs[5] if len(inputs) > 5 and inputs[5] is not None else None
    assert a.get("direction", b"forward") in (b"forward", "forward") and w.shape[0] == 1
    assert a.get("layout", 0) == 0
    assert seq_lens is None or np.all(seq_lens == x.shape[0])
    hsz = int(a["hidden_size"])
    lbr = int(a.get("linear_before_reset", 0))
    W, R, B = w[0], r[0], b[0]
    wz, wr, wh = W[:hsz], W[hsz:2 * hsz], W[2 * hsz:]
    rz, rr, rh = R[:hsz], R[hsz:2 * hsz], R[2 * hsz:]
    wbz, wbr, wbh = B[:hsz], B[hsz:2 * hsz], B[2 * hsz:3 * hsz]
    rbz, rbr, rbh = B[3 * hsz:4 * hsz], B[4 * hsz:5 * hsz], B[5 * hsz:]
    t_len, bsz = x.shape[0], x.shape[1]
    h = np.zeros((bsz, hsz)) if h0 is None else h0[0].astype(np.float64)
    ys = []
    for t in range(t_len):
        xt = x[t]
        z = _sigmoid(xt @ wz.T + h @ rz.T + wbz + rbz)
        rg = _sigmoid(xt @ wr.T + h @ rr.T + wbr + rbr)
        if lbr:
            hh = np.tanh(xt @ wh.T + rg * (h @ rh.T + rbh) + wbh)
        else:
            hh = np.tanh(xt @ wh.T + (rg * h) @ rh.T + rbh + wbh)
        h = (1 - z) * hh + z * h
        ys.append(h)
    y = np.stack(ys)[:, None]  # [T, 1, B, H]
    return [y, h[None]]


def _axes(inputs, a, idx=1):
    if len(inputs) > idx and inputs[idx] is not None:
        return [int(v) for v in inputs[idx]]
    return list(a["axes"]) if "axes" in a else None


def _reduce(fn):
    def op(inputs, a):
        axes = _axes(inputs, a)
        keep = bool(a.get("keepdims", 1))
        return [fn(inputs[0], axis=None if axes is None else tuple(axes), keepdims=keep)]
    return op


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _reshape(inputs, a):
    x, shape = inputs[0], [int(s) for s in inputs[1]]
    shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [x.reshape(shape)]


def _slice(inputs, a):
    x, starts, ends = inputs[0], inputs[1], inputs[2]
    axes = inputs[3] if len(inputs) > 3 and inputs[3] is not None else range(len(starts))
    steps = inputs[4] if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    sl = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        sl[int(ax)] = slice(int(s), int(e), int(st))
    return [x[tuple(sl)]]


_OPS = {
    "Identity": lambda i, a: [i[0]],
    "Relu": lambda i, a: [np.maximum(i[0], 0)],
    "Sigmoid": lambda i, a: [_sigmoid(i[0])],
    "Tanh": lambda i, a: [np.tanh(i[0])],
    "Add": lambda i, a: [i[0] + i[1]],
    "Sub": lambda i, a: [i[0] - i[1]],
    "Mul": lambda i, a: [i[0] * i[1]],
    "Div": lambda i, a: [i[0] / i[1]],
    "Neg": lambda i, a: [-i[0]],
    "Exp": lambda i, a: [np.exp(i[0])],
    "Log": lambda i, a: [np.log(i[0])],
    "Sqrt": lambda i, a: [np.sqrt(i[0])],
    "MatMul": lambda i, a: [i[0] @ i[1]],
    "Gemm": lambda i, a: [a.get("alpha", 1.0) * ((i[0].T if a.get("transA", 0) else i[0])
                                                  @ (i[1].T if a.get("transB", 0) else i[1]))
                          + (a.get("beta", 1.0) * i[2] if len(i) > 2 and i[2] is not None else 0)],
    "Conv": lambda i, a: [_conv(i[0], i[1], i[2] if len(i) > 2 else None,
                                a.get("strides", [1] * (i[0].ndim - 2)), a.get("pads", [0] * 2 * (i[0].ndim - 2)),
                                a.get("dilations", [1] * (i[0].ndim - 2)), a.get("group", 1))],
    "BatchNormalization": lambda i, a: [
        (i[0] - i[3].reshape((1, -1) + (1,) * (i[0].ndim - 2)))
        / np.sqrt(i[4].reshape((1, -1) + (1,) * (i[0].ndim - 2)) + a.get("epsilon", 1e-5))
        * i[1].reshape((1, -1) + (1,) * (i[0].ndim - 2)) + i[2].reshape((1, -1) + (1,) * (i[0].ndim - 2))],
    "MaxPool": lambda i, a: [_maxpool(i[0], a["kernel_shape"], a.get("strides", [1] * len(a["kernel_shape"])),
                                      a.get("pads", [0] * 2 * len(a["kernel_shape"])))],
    "GlobalAveragePool": lambda i, a: [i[0].mean(axis=tuple(range(2, i[0].ndim)), keepdims=True)],
    "GlobalMaxPool": lambda i, a: [i[0].max(axis=tuple(range(2, i[0].ndim)), keepdims=True)],
    "ReduceMean": _reduce(np.mean),
    "ReduceMax": _reduce(np.max),
    "Flatten": lambda i, a: [i[0].reshape(int(np.prod(i[0].shape[:a.get("axis", 1)])), -1)],
    "Reshape": _reshape,
    "Transpose": lambda i, a: [np.transpose(i[0], a.get("perm"))],
    "Concat": lambda i, a: [np.concatenate(i, axis=a["axis"])],
    "LogSoftmax": lambda i, a: [np.log(_softmax(i[0], a.get("axis", -1)))],
    "Softmax": lambda i, a: [_softmax(i[0], a.get("axis", -1))],
    "Squeeze": lambda i, a: [np.squeeze(i[0], axis=tuple(_axes(i, a))) if _axes(i, a) else np.squeeze(i[0])],
    "Unsqueeze": lambda i, a: [np.expand_dims(i[0], axis=tuple(_axes(i, a)))],
    "Shape": lambda i, a: [np.array(i[0].shape, dtype=np.int64)],
    "Gather": lambda i, a: [np.take(i[0], i[1], axis=a.get("axis", 0))],
    "Slice": _slice,
    "Cast": lambda i, a: [i[0]],
    "Expand": lambda i, a: [i[0] * np.ones([int(s) for s in i[1]], dtype=i[0].dtype)],
    "ConstantOfShape": lambda i, a: [np.full([int(s) for s in i[0]],
                                             np.asarray(a["value"]).reshape(-1)[0] if "value" in a else 0.0)],
    "Clip": lambda i, a: [np.clip(i[0], i[1] if len(i) > 1 and i[1] is not None else -np.inf,
                                  i[2] if len(i) > 2 and i[2] is not None else np.inf)],
    "GRU": _gru,
}


def run_onnx(path: Path, feeds: dict) -> list:
    """Evaluate an ONNX graph in float64 numpy (reference, not fast)."""
    m = onnx.load(str(path))
    env = {init.name: numpy_helper.to_array(init) for init in m.graph.initializer}
    for k, v in feeds.items():
        env[k] = np.asarray(v)
    for node in m.graph.node:
        attrs = {}
        for at in node.attribute:
            attrs[at.name] = numpy_helper.to_array(at.t) if at.type == onnx.AttributeProto.TENSOR \
                else helper.get_attribute_value(at)
        if node.op_type == "Constant":
            env[node.output[0]] = attrs["value"]
            continue
        if node.op_type not in _OPS:
            raise NotImplementedError(f"numpy check: operator {node.op_type} not implemented")
        ins = [env[n] if n else None for n in node.input]
        ins = [x.astype(np.float64) if isinstance(x, np.ndarray) and x.dtype == np.float32 else x for x in ins]
        outs = _OPS[node.op_type](ins, attrs)
        for name, val in zip(node.output, outs):
            if name:
                env[name] = val
    return [env[o.name] for o in m.graph.output]


def write_json(path: Path, obj) -> None:
    import json
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def file_size_kib(path: Path) -> float:
    return os.path.getsize(path) / 1024
