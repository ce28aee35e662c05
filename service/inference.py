"""onnxruntime inference engine: encoder + sample side over I/O binding, class tensors kept on the device."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from model.bundle import Bundle, ClassTensors, default_providers

log = logging.getLogger(__name__)

CLASS_INPUTS = ClassTensors._fields  # enc_c, dec_c, prior_mu, prior_logvar


def choose_providers(device: str) -> list[str]:
    """Providers for a device preference: 'cuda' requires CUDA, 'auto' uses it when present, 'cpu' never."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    providers = default_providers()  # CUDA only when onnxruntime offers it AND a CUDA device is present
    if device == "cuda" and providers[0] != "CUDAExecutionProvider":
        import onnxruntime as ort

        raise RuntimeError(f"device='cuda' requested but no usable CUDA device (onnxruntime offers "
                           f"{ort.get_available_providers()}; is onnxruntime-gpu installed without the CPU "
                           "'onnxruntime' package, and is a GPU visible?)")
    return providers


def bucket_sizes(max_batch_size: int) -> list[int]:
    """Powers of two below max_batch_size, then max_batch_size itself."""
    sizes, size = [], 1
    while size < max_batch_size:
        sizes.append(size)
        size *= 2
    return sizes + [max_batch_size]


class InferenceEngine:
    """Runs the bundle's graphs; on CUDA it pads batches to warm bucket sizes and keeps tensors on device."""

    def __init__(self, bundle: Bundle, max_batch_size: int) -> None:
        import onnxruntime as ort

        self._ort = ort
        self.bundle = bundle
        self.providers = bundle.providers()
        self.device = "cuda" if self.providers and self.providers[0] == "CUDAExecutionProvider" else "cpu"
        self.max_batch_size = max_batch_size
        # Only CUDA gains from fixed shapes (kernel selection per shape); on CPU padding is wasted work.
        self.buckets = bucket_sizes(max_batch_size) if self.device == "cuda" else []
        self.num_frames = bundle.manifest.num_frames
        self._bound_key: Any = None
        self._bound: dict[str, Any] = {}
        self._lock = threading.Lock()  # one scoring run at a time: the bound class tensors are shared state
        self.rebinds = 0
        self.warm = False

    def _padded(self, n: int) -> int:
        for size in self.buckets:
            if size >= n:
                return size
        return n

    def class_side(self, text_global: np.ndarray, text_tokens: np.ndarray,
                   token_mask: np.ndarray) -> ClassTensors:
        """Text features of K classes -> their per-class tensors (host arrays, cacheable)."""
        out = self.bundle.run_class_side(text_global, text_tokens, token_mask)
        return ClassTensors(*(np.ascontiguousarray(t, dtype=np.float32) for t in out))

    def _bind_classes(self, key: Any, tensors: ClassTensors) -> None:
        if key is not None and key == self._bound_key:
            return
        ortvalue = self._ort.OrtValue.ortvalue_from_numpy
        host = {name: np.ascontiguousarray(t, dtype=np.float32) for name, t in tensors._asdict().items()}
        # Host copies stay referenced: on CPU the OrtValues alias their memory.
        self._bound = {name: (ortvalue(arr, self.device, 0), arr) for name, arr in host.items()}
        self._bound_key = key
        self.rebinds += 1

    def score(self, skeletons: np.ndarray, class_key: Any, classes: ClassTensors) -> tuple[np.ndarray, np.ndarray]:
        """(N,3,T,25,2) preprocessed skeletons x K classes -> (energy (N,K), uncertainty (N,K)) in one pass.

        `class_key` names the class set: while it is unchanged the device copies are reused, not rebound.
        """
        n = skeletons.shape[0]
        if n == 0:
            raise ValueError("score() needs at least one sequence")
        x = np.ascontiguousarray(skeletons, dtype=np.float32)
        padded = self._padded(n)
        if padded > n:
            x = np.concatenate([x, np.zeros((padded - n, *x.shape[1:]), np.float32)])
        with self._lock:
            self._bind_classes(class_key, classes)
            enc = self.bundle.encoder.io_binding()
            enc.bind_cpu_input("skeleton", x)
            enc.bind_output("feature", self.device)
            self.bundle.encoder.run_with_iobinding(enc)
            feature = enc.get_outputs()[0]
            side = self.bundle.sample_side.io_binding()
            side.bind_ortvalue_input("feature", feature)
            for name, (value, _) in self._bound.items():
                side.bind_ortvalue_input(name, value)
            side.bind_output("energy", "cpu")
            side.bind_output("uncertainty", "cpu")
            self.bundle.sample_side.run_with_iobinding(side)
            energy, uncertainty = side.copy_outputs_to_cpu()
        return energy[:n], uncertainty[:n]

    def warmup(self, sizes: Sequence[int] | None = None) -> None:
        """Run every bucket size once (size 1 on CPU) so first requests do not pay for setup."""
        dims = self.bundle.manifest.dims
        cls = self.class_side(np.zeros((1, dims.text_dim), np.float32),
                              np.zeros((1, dims.context_length, dims.text_dim), np.float32),
                              np.ones((1, dims.context_length), np.float32))
        sizes = list(sizes or self.buckets or [1])
        for size in sizes:
            self.score(np.zeros((size, 3, self.num_frames, 25, 2), np.float32), ("warmup",), cls)
        self._bound_key, self._bound = None, {}
        self.warm = True
        log.info("inference engine warm on %s (providers %s, sizes %s)", self.device, self.providers,
                 sizes)
