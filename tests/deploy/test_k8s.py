"""deploy/k8s: every manifest validates against the Kubernetes schemas (kubernetes-validate, strict) and agrees
with the app: probe routes exist, ports equal the Settings default, env names are Settings fields, the API key
comes from a Secret, selectors match, Redis keeps an append-only file on a persistent volume."""

from __future__ import annotations

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
    secret = documents("secret.example.yaml")[0]
    assert secret["metadata"]["name"] == "scale-api-key" and set(secret["stringData"]) == {"SCALE_API_KEY"}
    assert "SCALE_API_KEY" in settings_env_names() and ("Secret", "scale-api-key") not in objects  # never shipped
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


def test_redis_is_a_statefulset_with_aof_on_a_persistent_volume(objects: dict) -> None:
    redis = objects[("StatefulSet", "scale-redis")]
    c = container(objects, "StatefulSet", "scale-redis")
    assert " ".join(c["args"]).count("--appendonly yes") == 1
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in c["volumeMounts"]
    url = objects[("ConfigMap", "scale-settings")]["data"]["REDIS_URL"]
    service = objects[("Service", "scale-redis")]
    assert url == f"redis://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/0"
    assert service["spec"]["ports"][0]["port"] == c["ports"][0]["containerPort"] == 6379
    assert service["spec"]["selector"].items() <= redis["spec"]["template"]["metadata"]["labels"].items()
    assert c["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]
