"""deploy/k8s: every manifest validates against the Kubernetes schemas (kubernetes-validate, strict) and agrees
with the app: probe routes exist, ports equal the Settings default, env names are Settings fields, the API key
comes from a Secret, selectors match, Redis keeps an append-only file on a persistent volume."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .test_dockerfiles import app_routes, settings_env_names, target_env

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
pytestmark = pytest.mark.unit


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict[str, Any]]:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    found = {}
    for name in listed:
        for doc in documents(name):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_every_manifest_validates_against_the_kubernetes_schemas() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    files = sorted(K8S.glob("*.yaml"))
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed <= {f.name for f in files} and (K8S / "secret.example.yaml").is_file()
    for path in files:
        if path.name == "kustomization.yaml":
            continue
        for doc in documents(path.name):
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_a_schema_violation_is_caught() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    broken = documents("deployment.yaml")[0]
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def container(objects: dict, kind: str, name: str) -> dict[str, Any]:
    (c,) = objects[(kind, name)]["spec"]["template"]["spec"]["containers"]
    return c


def test_deployment_probes_ports_and_settings_match_the_app(objects: dict) -> None:
    from service.settings import Settings

    scale = container(objects, "Deployment", "scale")
    routes = app_routes()
    assert scale["readinessProbe"]["httpGet"]["path"] == "/readyz" in routes
    assert scale["livenessProbe"]["httpGet"]["path"] == "/healthz" in routes
    assert scale["startupProbe"]["httpGet"]["path"] in routes
    (port,) = scale["ports"]
    config = objects[("ConfigMap", "scale-settings")]["data"]
    assert port["containerPort"] == int(config["SCALE_PORT"]) == Settings.model_fields["port"].default
    assert config["SCALE_HOST"] == "0.0.0.0"
    unknown = set(config) - settings_env_names()
    assert not unknown, f"ConfigMap names no Settings field reads: {sorted(unknown)}"
    settings = {k.removeprefix("SCALE_").lower(): v for k, v in config.items() if k.startswith("SCALE_")}
    with pytest.raises(ValueError, match="SCALE_ALLOW_OPEN_WRITES"):  # 0.0.0.0 needs the Secret's key
        Settings(**settings)
    Settings(**settings, api_key="a-key-from-the-secret")
    sources = {next(iter(s)): next(iter(s.values()))["name"] for s in scale["envFrom"]}
    assert sources == {"configMapRef": "scale-settings", "secretRef": "scale-api-key"}
    secrets = {d["metadata"]["name"]: d for d in documents("secret.example.yaml")}
    assert set(secrets["scale-api-key"]["stringData"]) == {"SCALE_API_KEY"}
    assert set(secrets["scale-redis"]["stringData"]) == {"REDIS_PASSWORD"}
    assert "SCALE_API_KEY" in settings_env_names() and not {("Secret", n) for n in secrets} & set(objects)  # never shipped
    mounts = {m["mountPath"]: m for m in scale["volumeMounts"]}
    assert mounts[config["SCALE_BUNDLE_PATH"]]["readOnly"] is True
    assert config["SCALE_BUNDLE_PATH"] == target_env("cpu")["SCALE_BUNDLE_PATH"]
    pod = objects[("Deployment", "scale")]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001


def test_resources_cover_the_measured_memory_per_replica(objects: dict) -> None:
    resources = container(objects, "Deployment", "scale")["resources"]
    mib = {"Mi": 1, "Gi": 1024}
    request = int(resources["requests"]["memory"][:-2]) * mib[resources["requests"]["memory"][-2:]]
    limit = int(resources["limits"]["memory"][:-2]) * mib[resources["limits"]["memory"][-2:]]
    # docs/deploy.md, "What ran here": one cpu replica after registering classes and recognizing a real clip
    assert request >= 1.25 * MEASURED_REPLICA_MIB and limit >= 2 * request


MEASURED_REPLICA_MIB = 698  # `docker stats` of scale-cpu in tests/deploy/test_compose_live.py


def test_service_hpa_and_pdb_target_the_deployment(objects: dict) -> None:
    deployment = objects[("Deployment", "scale")]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = objects[("Service", "scale")]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == container(objects, "Deployment", "scale")["ports"][0]["name"]
    hpa = objects[("HorizontalPodAutoscaler", "scale")]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scale"}
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]
    pdb = objects[("PodDisruptionBudget", "scale")]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items() and pdb["minAvailable"] < hpa["minReplicas"]


def secret_env(c: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Container env names that come from a Secret: name -> (secret, key)."""
    return {e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}


def expand(value: str, env: list[dict[str, Any]], upto: str) -> str:
    """Kubernetes' $(VAR) expansion of a container's env entry from the entries defined before it."""
    names = [e["name"] for e in env]
    earlier = names[:names.index(upto)] if upto in names else names
    return re.sub(r"\$\((\w+)\)", lambda m: f"<{m.group(1)}>" if m.group(1) in earlier else m.group(0), value)


def test_redis_is_a_statefulset_with_durable_aof_on_a_persistent_volume(objects: dict) -> None:
    redis = objects[("StatefulSet", "scale-redis")]
    c = container(objects, "StatefulSet", "scale-redis")
    args = " ".join(c["args"])
    # acknowledged = on disk: the service answers 200 only after Redis answered, which it does after fsync
    assert args.count("--appendonly yes") == 1 and args.count("--appendfsync always") == 1
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in c["volumeMounts"]
    service = objects[("Service", "scale-redis")]
    assert service["spec"]["ports"][0]["port"] == c["ports"][0]["containerPort"] == 6379
    assert service["spec"]["selector"].items() <= redis["spec"]["template"]["metadata"]["labels"].items()
    for probe in ("readinessProbe", "livenessProbe"):  # `redis-cli ping` exits 0 on NOAUTH: PONG is required
        assert c[probe]["exec"]["command"][-1] == "redis-cli ping | grep -qx PONG"


def test_redis_requires_the_password_the_service_sends(objects: dict) -> None:
    redis = container(objects, "StatefulSet", "scale-redis")
    assert "--requirepass $(REDIS_PASSWORD)" in " ".join(redis["args"])
    assert secret_env(redis) == {"REDIS_PASSWORD": ("scale-redis", "REDIS_PASSWORD"),
                                 "REDISCLI_AUTH": ("scale-redis", "REDIS_PASSWORD")}
    scale = container(objects, "Deployment", "scale")
    assert secret_env(scale) == {"REDIS_PASSWORD": ("scale-redis", "REDIS_PASSWORD")}
    assert "REDIS_URL" not in objects[("ConfigMap", "scale-settings")]["data"]  # a URL with a password is secret
    (url,) = [e["value"] for e in scale["env"] if e["name"] == "REDIS_URL"]
    service = objects[("Service", "scale-redis")]
    expanded = expand(url, scale["env"], "REDIS_URL")
    assert expanded == f"redis://:<REDIS_PASSWORD>@{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/0"
    from service.settings import Settings

    assert Settings(redis_url=url.replace("$(REDIS_PASSWORD)", "pw"), api_key="k" * 8).redis_url.startswith("redis://")


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector with matchLabels only (what the manifests use) against a pod's labels."""
    assert set(selector) <= {"matchLabels"}, selector
    return selector.get("matchLabels", {}).items() <= labels.items()


def allowed(policy: dict[str, Any], source: dict[str, str], target: dict[str, str], port: int,
            port_names: dict[str, int]) -> bool:
    """Whether one NetworkPolicy lets a pod labelled `source` open `port` on a pod labelled `target`
    (same namespace; podSelector peers only: an ipBlock or namespaceSelector peer would fail the test)."""
    spec = policy["spec"]
    if not selects(spec["podSelector"], target) or "Ingress" not in spec["policyTypes"]:
        return True  # this policy does not isolate the target's ingress
    for rule in spec.get("ingress", []):
        peers_ok = any(selects(peer["podSelector"], source) for peer in rule["from"] if set(peer) == {"podSelector"})
        ports = {port_names.get(p["port"], p["port"]) for p in rule.get("ports", [])}
        if peers_ok and port in ports:
            return True
    return False


def test_only_the_service_pods_reach_redis(objects: dict) -> None:
    policy = objects[("NetworkPolicy", "scale-redis")]
    redis_labels = objects[("StatefulSet", "scale-redis")]["spec"]["template"]["metadata"]["labels"]
    api_labels = objects[("Deployment", "scale")]["spec"]["template"]["metadata"]["labels"]
    redis = container(objects, "StatefulSet", "scale-redis")
    names = {p["name"]: p["containerPort"] for p in redis["ports"]}
    assert selects(policy["spec"]["podSelector"], redis_labels)
    assert allowed(policy, api_labels, redis_labels, 6379, names)
    assert not allowed(policy, api_labels, redis_labels, 6380, names)
    for stranger in ({"app": "other"}, {"app.kubernetes.io/name": "scale"}, redis_labels,
                     {"app.kubernetes.io/component": "api"}):
        assert not allowed(policy, stranger, redis_labels, 6379, names), stranger
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and policy["spec"]["egress"] == []
