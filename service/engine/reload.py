"""Bundle hot reload: load, verify, warm and condition a new bundle, then swap it in with one reference."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model.bundle import BundleError, load_bundle, read_manifest
from service.deps import ServiceState
from service.engine.inference import choose_providers
from service.engine.loading import StartupError, load_text_for
from service.engine.model_state import ModelState, build_model
from service.engine.policy import bundle_session_options
from service.registry import RegistryUnavailable

log = logging.getLogger(__name__)
BUNDLE_HEADER = "x-scale-bundle-version"
DRAIN_TIMEOUT_S = 60.0


class ReloadFailed(Exception):
    """A reload that did not happen; the old bundle keeps serving. `status` and `kind` shape the answer."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


@dataclass(frozen=True)
class ReloadResult:
    """What a successful (or no-op) reload did."""

    status: str  # "reloaded" or "unchanged" (the directory holds the version already serving)
    bundle_version: str
    previous_version: str
    bundle_path: str
    seconds: float
    classes: int  # registered classes conditioned for the new bundle before the swap
    texts: int
    published: bool = False  # named as the fleet's desired bundle in Redis (replicas follow it)


class ReloadMetrics:
    """Reload counters, the last outcome's time, and the serving bundle as an info-style gauge."""

    def __init__(self, registry: Any) -> None:
        self.reloads = Counter("scale_bundle_reloads", "Bundle reloads by result (reloaded, unchanged, failed)",
                               ["result"], registry=registry)
        self.last_success = Gauge("scale_bundle_reload_last_success_timestamp_seconds",
                                  "Unix time of the last successful bundle swap", registry=registry)
        self.last_failure = Gauge("scale_bundle_reload_last_failure_timestamp_seconds",
                                  "Unix time of the last failed bundle reload", registry=registry)
        self.serving = Gauge("scale_bundle_info", "The bundle version serving now (value 1)", ["bundle_version"],
                             registry=registry)
        self.outside_root = Counter("scale_bundle_outside_root", "Bundle paths refused because they lie outside "
                                    "SCALE_BUNDLE_ROOT, by source (admin, fleet, SIGHUP)", ["source"],
                                    registry=registry)
        for result in ("reloaded", "unchanged", "failed"):
            self.reloads.labels(result)  # exported at 0 before the first reload
        for source in ("admin", "fleet"):
            self.outside_root.labels(source)

    def now_serving(self, old: str | None, new: str) -> None:
        """Move the info gauge from the old version to the new one."""
        if old is not None and old != new:
            self.serving.remove(old)
        self.serving.labels(new).set(1)


class Reloader:
    """Serialises reloads for one ServiceState and retires replaced models once their requests finished."""

    def __init__(self, state: ServiceState, default_path: Callable[[], Path]) -> None:
        self.state = state
        self._default_path = default_path
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task] = set()
        self._sighup = False
        self._follower: asyncio.Task | None = None
        self._seen: dict[str, str] | None = None  # the last fleet entry this replica acted on
        # One set per app Metrics: an app whose lifespan runs twice must not register them twice.
        if getattr(state.metrics, "reload", None) is None:
            state.metrics.reload = ReloadMetrics(state.metrics.registry)
        self.metrics: ReloadMetrics = state.metrics.reload
        self.metrics.now_serving(None, state.model.version)
        self.last_error: str | None = None
        self.last_result: ReloadResult | None = None

    async def reload(self, path: Path | str | None = None, source: str = "admin", *,
                     expect_version: str | None = None, publish: bool = False) -> ReloadResult:
        """Load the bundle at `path` (default: the configured one) and swap it in; ReloadFailed says why not.

        `expect_version` refuses a directory holding another version; `publish` names the result as the
        fleet's desired bundle in Redis, which the other replicas follow.
        """
        if self._lock.locked():
            raise ReloadFailed(409, "reload-in-progress", "another bundle reload is in progress; retry when "
                                                           "it finished")
        async with self._lock:
            started = time.perf_counter()
            try:
                target = self._inside_root(Path(path) if path else self._default_path(), source)
                result = await self._load_and_swap(target, started, expect_version)
            except ReloadFailed as exc:
                self._failed(exc, source)
                raise
            except Exception as exc:  # anything else (onnxruntime, warm-up) also leaves the old bundle serving
                failure = ReloadFailed(422, "reload-failed", f"{type(exc).__name__}: {exc}")
                self._failed(failure, source, exc)
                raise failure from exc
        if publish:
            result = await self._publish(result)
        self.metrics.reloads.labels(result.status).inc()
        self.last_result, self.last_error = result, None
        log.info("bundle reload (%s): %s %s -> %s from %s in %.2fs (%d classes, %d texts conditioned)", source,
                 result.status, result.previous_version, result.bundle_version, result.bundle_path,
                 result.seconds, result.classes, result.texts)
        return result

    def _failed(self, exc: ReloadFailed, source: str, cause: BaseException | None = None) -> None:
        self.metrics.reloads.labels("failed").inc()
        self.metrics.last_failure.set(time.time())
        self.last_error = exc.reason
        log.error("bundle reload (%s) failed, still serving %s: %s", source, self.state.model.version,
                  exc.reason, exc_info=cause)

    async def _publish(self, result: ReloadResult) -> ReloadResult:
        setter = getattr(self.state.registry, "set_desired_bundle", None)
        if setter is None:
            return result  # in-process registry: one replica, nothing to tell
        path = str(Path(result.bundle_path).resolve())
        try:
            await setter(path, result.bundle_version)
        except RegistryUnavailable as exc:
            log.warning("reloaded, but could not name bundle %s for the other replicas: %s",
                        result.bundle_version, exc)
            return result
        self._seen = {"bundle_path": path, "bundle_version": result.bundle_version}
        return ReloadResult(**{**result.__dict__, "published": True})

    def bundle_root(self) -> Path:
        """SCALE_BUNDLE_ROOT, else the directory holding the configured bundle (resolved: links followed)."""
        root = self.state.settings.bundle_root or self._default_path().parent
        return root.resolve()

    def _inside_root(self, path: Path, source: str) -> Path:
        """The resolved path when it lies under the bundle root; else ReloadFailed, logged and counted.

        Whoever can write the fleet key in Redis or call /admin/reload names a path; only the operator's root
        decides what may be loaded from it (a link inside the root pointing outside it is refused too).
        """
        root, resolved = self.bundle_root(), path.resolve()
        if resolved.is_relative_to(root):
            return resolved
        self.metrics.outside_root.labels(source).inc()  # _failed logs it with the reason below
        raise ReloadFailed(422, "bundle-outside-root", f"{path} lies outside the bundle root {root} "
                           "(SCALE_BUNDLE_ROOT); only bundles under it can be loaded")

    async def _unchanged(self, path: Path, version: str) -> ReloadResult:
        try:  # report what is registered (and conditioned) now, as a reload would have
            snap = await self.state.snapshot()
        except RegistryUnavailable:
            snap = self.state.last_snapshot
        records = snap.classes if snap is not None else []
        texts = {t for r in records for t in r.all_texts}
        return ReloadResult("unchanged", version, version, str(path), 0.0, len(records), len(texts))

    async def _load_and_swap(self, path: Path, started: float, expect_version: str | None) -> ReloadResult:
        state, old = self.state, self.state.model
        try:  # the manifest alone says whether anything changes: nothing is loaded for the version serving
            claimed = (await asyncio.to_thread(read_manifest, path)).bundle_version if path.is_dir() else None
        except BundleError as exc:
            raise ReloadFailed(422, "bundle-rejected", str(exc)) from exc
        if claimed == old.version and expect_version in (None, claimed):
            return await self._unchanged(path, old.version)
        try:
            providers = choose_providers(state.settings.device)
            bundle = await asyncio.to_thread(load_bundle, path, providers=providers,
                                             session_options=bundle_session_options(state.settings, providers))
        except BundleError as exc:
            raise ReloadFailed(422, "bundle-rejected", str(exc)) from exc
        if expect_version is not None and bundle.version != expect_version:
            raise ReloadFailed(422, "bundle-version-mismatch", f"{path} holds bundle {bundle.version}, not the "
                                                              f"expected {expect_version}")
        text_encoder = await self._text_encoder_for(bundle, old)
        model = build_model(state.settings, state.metrics, bundle, text_encoder, state.registry)
        await asyncio.to_thread(model.engine.warmup)
        try:
            snap = await state.snapshot()
        except RegistryUnavailable as exc:
            raise ReloadFailed(503, "registry-unavailable", f"cannot read the registered classes to "
                                                            f"condition them: {exc}") from exc
        texts = [t for r in snap.classes for t in r.all_texts]
        await model.conditioner.text_rows(texts)
        model.batcher.start()
        state.model = model  # the swap: one reference; requests holding `old` finish on it
        self.metrics.now_serving(old.version, model.version)
        self.metrics.last_success.set(time.time())
        task = asyncio.create_task(old.retire(DRAIN_TIMEOUT_S), name=f"scale-retire-{old.version}")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        return ReloadResult("reloaded", model.version, old.version, str(path),
                            round(time.perf_counter() - started, 3), len(snap.classes), len(set(texts)))

    async def _text_encoder_for(self, bundle: Any, old: ModelState) -> Any:
        if old.text_encoder.weights_id == bundle.manifest.text.weights_id:
            return old.text_encoder  # same CLIP weights: share the loaded tower
        try:
            return await asyncio.to_thread(load_text_for, bundle, self.state.settings)
        except (StartupError, OSError, ValueError) as exc:
            raise ReloadFailed(422, "text-weights-mismatch", str(exc)) from exc

    def info(self) -> dict[str, Any]:
        """For /info: the last reload's outcome and the last error (None after a success)."""
        last = self.last_result
        return {"in_progress": self._lock.locked(), "last_error": self.last_error,
                "last": None if last is None else {**last.__dict__}, "sighup": self._sighup}

    def start(self) -> None:
        """Listen for SIGHUP and, with a Redis registry and SCALE_BUNDLE_POLL_S > 0, follow the fleet's bundle."""
        self.install_sighup()
        poll = self.state.settings.bundle_poll_s
        if poll > 0 and hasattr(self.state.registry, "get_desired_bundle"):
            self._follower = asyncio.get_running_loop().create_task(self._follow(poll), name="scale-bundle-follow")

    async def _follow(self, poll_s: float) -> None:
        while True:
            try:
                await self._follow_once()
            except Exception:  # never let the follower die: the next poll tries again
                log.exception("checking the fleet's desired bundle failed")
            await asyncio.sleep(poll_s)

    async def _follow_once(self) -> None:
        desired = await self.state.registry.get_desired_bundle()
        if desired is None or desired == self._seen or self._lock.locked():
            return
        self._seen = desired  # act once per published entry; a failure is not retried in a loop
        if desired["bundle_version"] != self.state.model.version:
            try:
                await self.reload(desired["bundle_path"], "fleet", expect_version=desired["bundle_version"])
            except ReloadFailed:
                pass  # logged and counted; this replica keeps its bundle until the next publish

    def install_sighup(self) -> None:
        """Reload the configured bundle path on SIGHUP (main thread with a Unix event loop only)."""
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
            self._sighup = True
        except (NotImplementedError, RuntimeError, ValueError, AttributeError) as exc:
            log.debug("SIGHUP reload not available here: %s", exc)

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading the configured bundle")
        task = asyncio.get_running_loop().create_task(self._sighup_reload(), name="scale-sighup-reload")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _sighup_reload(self) -> None:
        try:
            await self.reload(None, "SIGHUP")
        except ReloadFailed:
            pass  # already logged and counted; the old bundle keeps serving

    async def close(self) -> None:
        """Stop listening for SIGHUP and following the fleet, finish retiring replaced bundles (shutdown)."""
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
            self._follower = None
        if self._sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        self._follower: asyncio.Task | None = None
        self._seen: dict[str, str] | None = None  # the last fleet entry this replica acted on
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)


class BundleVersionHeader:
    """Names the bundle on every answer: the one the request scored with, else the one serving now."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                version = (scope.get("state") or {}).get("bundle_version")
                service = getattr(getattr(scope.get("app"), "state", None), "service", None)
                if version is None and service is not None:
                    version = service.model.version
                if version is not None:
                    message.setdefault("headers", [])
                    message["headers"] = [*message["headers"], (BUNDLE_HEADER.encode(), version.encode())]
            await send(message)

        await self.app(scope, receive, send_with_version)
