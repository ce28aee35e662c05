"""onnxruntime inference engine: features (single-person path when it applies) + sample side, per device."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from model.bundle import Bundle, ClassTensors, default_providers
from model.person_slots import second_person_absent
from service.engine.runtimes import EncoderRuntime

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
    """Runs the bundle's graphs. On CPU runs are independent (several threads may score at once); on CUDA
    batches are padded to warm bucket sizes and the class tensors stay bound on the device."""

    def __init__(self, bundle: Bundle, max_batch_size: int, *, single_person: bool = True,
                 runtime: EncoderRuntime | None = None, encoder_graphs: tuple[Any, Any] | None = None) -> None:
        import onnxruntime as ort

        self._ort = ort
        self.bundle = bundle
        self.providers = bundle.providers()
        self.device = "cuda" if self.providers and self.providers[0] == "CUDAExecutionProvider" else "cpu"
        self.max_batch_size = max_batch_size
        # Only CUDA gains from fixed shapes (kernel selection per shape); on CPU padding is wasted work.
        self.buckets = bucket_sizes(max_batch_size) if self.device == "cuda" else []
        # CUDA keeps the class tensors bound on the device between runs; CPU feeds host arrays (no shared state).
        self.bind_classes = self.device == "cuda"
        self.num_frames = bundle.manifest.num_frames
        self.feature_dim = bundle.manifest.dims.feature_dim
        # Bundles exported before the single-person graph existed keep working through the full encoder.
        self.single_person = single_person and bundle.single_person is not None
        # the encoder graphs may run on another runtime than onnxruntime (service/engine/runtimes.py)
        self.runtime = runtime or EncoderRuntime("onnxruntime", "f32", "the bundle's onnxruntime sessions")
        self.encoder, self.single_person_graph = encoder_graphs or (bundle.encoder, bundle.single_person)
        self._bound_key: Any = None
        self._bound: dict[str, Any] = {}
        self._lock = threading.Lock()  # CUDA: one scoring run at a time, the bound class tensors are shared
        self.rebinds = 0
        self.single_sequences = 0  # sequences that took the single-person path (observability, tests)
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

    def _run_feature(self, session: Any, input_name: str, x: np.ndarray) -> np.ndarray:
        """One graph run -> its `feature` output on the host; CUDA pads the batch to a bucket size."""
        n = x.shape[0]
        if not self.bind_classes:
            return session.run(["feature"], {input_name: x})[0]
        padded = self._padded(n)
        if padded > n:
            x = np.concatenate([x, np.zeros((padded - n, *x.shape[1:]), np.float32)])
        binding = session.io_binding()
        binding.bind_cpu_input(input_name, x)
        binding.bind_output("feature", "cpu")
        session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0][:n]

    def features(self, skeletons: np.ndarray) -> np.ndarray:
        """(N,3,T,25,2) preprocessed skeletons -> (N, feature_dim); absent second persons skip their trunk."""
        x = np.ascontiguousarray(skeletons, dtype=np.float32)
        absent = second_person_absent(x) if self.single_person else np.zeros(len(x), bool)
        if not absent.any():
            return self._run_feature(self.encoder, "skeleton", x)
        out = np.empty((len(x), self.feature_dim), np.float32)
        out[absent] = self._run_feature(self.single_person_graph, "person", np.ascontiguousarray(x[absent, ..., 0]))
        if not absent.all():
            out[~absent] = self._run_feature(self.encoder, "skeleton", x[~absent])
        self.single_sequences += int(absent.sum())
        return out

    def score(self, skeletons: np.ndarray, class_key: Any, classes: ClassTensors) -> tuple[np.ndarray, np.ndarray]:
        """(N,3,T,25,2) preprocessed skeletons x K classes -> (energy (N,K), uncertainty (N,K)).

        `class_key` names the class set: while it is unchanged the device copies are reused, not rebound.
        """
        n = skeletons.shape[0]
        if n == 0:
            raise ValueError("score() needs at least one sequence")
        if not self.bind_classes:  # thread-safe: sessions allow concurrent runs, nothing shared is mutated
            energy, uncertainty = self.bundle.run_sample_side(self.features(skeletons), classes)
            return energy, uncertainty
        with self._lock:
            feature = self.features(skeletons)
            padded = self._padded(n)
            if padded > n:
                feature = np.concatenate([feature, np.zeros((padded - n, feature.shape[1]), np.float32)])
            self._bind_classes(class_key, classes)
            side = self.bundle.sample_side.io_binding()
            side.bind_cpu_input("feature", feature)
            for name, (value, _) in self._bound.items():
                side.bind_ortvalue_input(name, value)
            side.bind_output("energy", "cpu")
            side.bind_output("uncertainty", "cpu")
            self.bundle.sample_side.run_with_iobinding(side)
            energy, uncertainty = side.copy_outputs_to_cpu()
        return energy[:n], uncertainty[:n]

    def warmup(self, sizes: Sequence[int] | None = None) -> None:
        """Run every bucket size once (size 1 on CPU), both paths, so first requests do not pay for setup."""
        dims = self.bundle.manifest.dims
        cls = self.class_side(np.zeros((1, dims.text_dim), np.float32),
                              np.zeros((1, dims.context_length, dims.text_dim), np.float32),
                              np.ones((1, dims.context_length), np.float32))
        sizes = list(sizes or self.buckets or [1])
        for size in sizes:
            x = np.zeros((size, 3, self.num_frames, 25, 2), np.float32)
            self.score(x, ("warmup",), cls)  # second person absent: the single-person path
            x[..., 1] = 0.1
            self.score(x, ("warmup",), cls)  # two persons: the full encoder
        self._bound_key, self._bound = None, {}
        self.single_sequences = 0
        self.warm = True
        log.info("inference engine warm on %s (providers %s, encoder %s %s, sizes %s, single-person path %s)",
                 self.device, self.providers, self.runtime.name, self.runtime.precision, sizes,
                 "on" if self.single_person else "off")
