"""`scale doctor` checks: onnxruntime packages and providers, a real CUDA session, bundle, Redis, API key."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.settings import Settings

OK, WARN, FAIL = "ok", "warn", "fail"
CUDA = "CUDAExecutionProvider"


@dataclass(frozen=True)
class Check:
    """One line of the report: a name, ok / warn / fail, and what was found (or what to do)."""

    name: str
    status: str
    detail: str


def installed_onnxruntime() -> dict[str, str]:
    """Installed distributions whose name starts with onnxruntime (name -> version)."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower().replace("_", "-")
        if name.startswith("onnxruntime"):
            found[name] = dist.version
    return found


def check_packages(packages: dict[str, str]) -> Check:
    """Exactly one onnxruntime build; the CPU package next to onnxruntime-gpu shadows its CUDA provider."""
    shown = ", ".join(f"{k}=={v}" for k, v in sorted(packages.items())) or "none"
    if not packages:
        return Check("onnxruntime packages", FAIL, "onnxruntime is not installed (install onnxruntime-gpu or "
                                                    "onnxruntime)")
    if "onnxruntime" in packages and len(packages) > 1:
        return Check("onnxruntime packages", FAIL, f"{shown}: the CPU package 'onnxruntime' is installed next to "
                     "a GPU/accelerator build and hides its providers; `pip uninstall onnxruntime` and reinstall "
                     f"{sorted(set(packages) - {'onnxruntime'})[0]}")
    return Check("onnxruntime packages", OK, shown)


def bundle_graphs(root: Path, manifest: Any) -> list[tuple[str, Path]]:
    """(name, path) of the fp32 graphs the service runs, text graph included when the bundle has one."""
    from model.bundle_spec import GRAPH_NAMES, graph_file

    graphs = [(g, root / graph_file(g)) for g in GRAPH_NAMES]
    if manifest.text_graph is not None:
        graphs.append(("text", root / manifest.text_graph.file))
    return graphs


def check_cuda(settings: Settings, available: list[str], gpus: Iterable[str], graphs: list[tuple[str, Path]],
               open_session: Callable[[Path, list[str]], Any]) -> list[Check]:
    """GPU name, then whether a CUDA session really initialises on every graph (not just listed)."""
    gpus = list(gpus)
    if settings.device == "cpu":
        return [Check("CUDA", OK, "SCALE_DEVICE=cpu: CUDA not used")]
    wants_cuda = settings.device == "cuda"
    if not gpus:
        status = FAIL if wants_cuda else WARN if CUDA in available else OK
        return [Check("GPU", status, "no CUDA device visible to the NVIDIA driver"
                      + (" but SCALE_DEVICE=cuda" if wants_cuda else ": serving on CPU"))]
    # A GPU is here: falling back to CPU silently is the failure this command exists to catch.
    checks = [Check("GPU", OK, ", ".join(gpus))]
    if CUDA not in available:
        return checks + [Check("CUDA provider", FAIL, "onnxruntime has no CUDAExecutionProvider on a GPU host "
                               "(install onnxruntime-gpu, or set SCALE_DEVICE=cpu to serve on CPU on purpose)")]
    if not graphs:
        return checks + [Check("CUDA session", FAIL, "no bundle graphs to try a CUDA session on")]
    for name, path in graphs:
        try:
            used = list(open_session(path, [CUDA, "CPUExecutionProvider"]).get_providers())
        except Exception as exc:  # onnxruntime raises its own types (missing libcudart/cuDNN, bad graph)
            checks.append(Check(f"CUDA session ({name})", FAIL, f"{type(exc).__name__}: {exc}"))
            continue
        if used[:1] == [CUDA]:
            checks.append(Check(f"CUDA session ({name})", OK, f"{path.name} runs on {used[0]}"))
        else:
            checks.append(Check(f"CUDA session ({name})", FAIL, f"{path.name} fell back to {used}: onnxruntime "
                                "could not load its CUDA libraries (CUDA/cuDNN wheels or driver too old?)"))
    return checks


def check_bundle(settings: Settings) -> tuple[list[Check], Path | None, Any]:
    """Bundle found, manifest valid, every file's sha256 and the content hash; the text graph's presence."""
    from model.bundle import BundleError, read_manifest, verify_files

    root = settings.bundle_path or (settings.demo_dir if (settings.demo_dir / "manifest.json").is_file() else None)
    if root is None:
        return [Check("bundle", FAIL, "no bundle: set SCALE_BUNDLE_PATH (or --bundle), or build the demo with "
                                      "`scale serve --demo`")], None, None
    try:
        manifest = read_manifest(Path(root))
        verify_files(Path(root), manifest)
    except BundleError as exc:
        return [Check("bundle", FAIL, str(exc))], None, None
    checks = [Check("bundle", OK, f"{root} version {manifest.bundle_version}"
                    + (" (DEMO: rankings NOT meaningful)" if manifest.demo else ""))]
    if manifest.text_graph is not None:
        checks.append(Check("text graph", OK, f"{manifest.text_graph.file} + {manifest.text_graph.tokenizer} "
                                              "verified: serving needs no torch"))
    else:
        checks.append(Check("text graph", WARN, "bundle has no text.onnx: the service needs torch + open_clip and "
                                                "the CLIP weights (re-export to serve without them)"))
    return checks, Path(root), manifest


def check_encoder_runtime(settings: Settings, available: list[str], gpus: list[str]) -> Check:
    """Which runtime and precision would run the encoder (SCALE_ENCODER_RUNTIME / _PRECISION and the CPU)."""
    from service.engine.runtimes import RuntimeChoiceError, resolve_encoder_runtime

    cuda = settings.device != "cpu" and CUDA in available and bool(gpus)
    try:
        runtime = resolve_encoder_runtime(settings.encoder_runtime, settings.encoder_precision,
                                          "cuda" if cuda else "cpu")
    except RuntimeChoiceError as exc:
        return Check("encoder runtime", FAIL, str(exc))
    return Check("encoder runtime", OK, f"{runtime.name} {runtime.precision}: {runtime.reason}")


def check_redis(settings: Settings) -> Check:
    """PING the configured Redis; without one the registry lives in the process."""
    if settings.redis_url is None:
        return Check("redis", WARN, "REDIS_URL not set: in-process registry, classes are lost on restart and "
                                    "not shared between replicas")
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=settings.redis_timeout_s,
                                  socket_connect_timeout=settings.redis_timeout_s)
    try:
        client.ping()
    except redis.RedisError as exc:
        return Check("redis", FAIL, f"cannot reach {_redacted(settings.redis_url)}: {exc}")
    finally:
        client.close()
    return Check("redis", OK, f"{_redacted(settings.redis_url)} answers PING")


def _redacted(url: str) -> str:
    """The URL without a password."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}***@{rest.split('@', 1)[1]}" if "@" in rest else url


def check_api_key(settings: Settings) -> Check:
    """Write routes (POST/DELETE /classes) are protected when SCALE_API_KEY is set."""
    if settings.api_key is None:
        return Check("api key", WARN, "SCALE_API_KEY not set: anyone who reaches the port can register and "
                                      "delete classes")
    return Check("api key", OK, "write routes need X-API-Key / Authorization: Bearer")


def _open_session(path: Path, providers: list[str]) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def run_checks(settings: Settings, open_session: Callable[[Path, list[str]], Any] = _open_session) -> list[Check]:
    """Every check in report order (CUDA sessions are tried on the bundle's graphs)."""
    import onnxruntime as ort

    from model.cuda_probe import cuda_device_names

    checks = [check_packages(installed_onnxruntime())]
    available = list(ort.get_available_providers())
    checks.append(Check("providers", OK, ", ".join(available)))
    bundle_checks, root, manifest = check_bundle(settings)
    graphs = bundle_graphs(root, manifest) if root is not None else []
    gpus = list(cuda_device_names())
    checks += check_cuda(settings, available, gpus, graphs, open_session)
    checks.append(check_encoder_runtime(settings, available, gpus))
    checks += bundle_checks
    checks += [check_redis(settings), check_api_key(settings)]
    return checks
