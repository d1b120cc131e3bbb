"""deploy/k8s without a cluster: every manifest parses into its Kubernetes model, the instance and the
run launcher pass Dagster's and dagster-k8s' schemas, the executor config passes dagster-k8s' schema and
fits the ingest job's steps, and the files leave only image, storage class and database URL to fill in."""

import re

import dagster as dg
import kubernetes.client as k8s
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster_k8s import K8sRunLauncher, k8s_job_executor
from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict

from chaffee_assets.definitions import defs
from chaffee_assets.defs.executors import K8S_EXECUTOR_CONFIG, executor_def, step_queues
from chaffee_assets.settings import REPO_ROOT, Settings

MANIFESTS = REPO_ROOT / "deploy" / "k8s" / "chaffee.yaml"
MODELS = {"Namespace": k8s.V1Namespace, "PersistentVolumeClaim": k8s.V1PersistentVolumeClaim,
          "Secret": k8s.V1Secret, "ConfigMap": k8s.V1ConfigMap, "ServiceAccount": k8s.V1ServiceAccount,
          "Role": k8s.V1Role, "RoleBinding": k8s.V1RoleBinding, "Job": k8s.V1Job,
          "Deployment": k8s.V1Deployment, "Service": k8s.V1Service}


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict]:
    docs = [d for d in yaml.safe_load_all(MANIFESTS.read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_every_manifest_is_a_valid_kubernetes_object(manifests):
    for (kind, name), doc in manifests.items():
        body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
        k8s_model_from_dict(MODELS[kind], k8s_snake_case_dict(MODELS[kind], body))  # unknown keys raise
        assert doc["metadata"].get("namespace", "chaffee") == "chaffee", (kind, name)


def test_instance_and_run_launcher_pass_their_schemas(manifests, tmp_path):
    instance_yaml = manifests[("ConfigMap", "chaffee-instance")]["data"]["dagster.yaml"]
    (tmp_path / "dagster.yaml").write_text(instance_yaml)
    config, _cls = dagster_instance_config(str(tmp_path))  # raises on anything off Dagster's schema
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    checked = process_config(K8sRunLauncher.config_type(), launcher["config"])
    assert checked.success, checked.errors
    # the shared volume is the claim of the manifest, ReadWriteMany, and holds CHAFFEE_HOME
    claim = manifests[("PersistentVolumeClaim", "chaffee-home")]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    [volume] = launcher["config"]["volumes"]
    assert volume["persistent_volume_claim"]["claim_name"] == claim["metadata"]["name"]
    [mount] = launcher["config"]["volume_mounts"]
    home = manifests[("ConfigMap", "chaffee-env")]["data"]["CHAFFEE_HOME"]
    assert home.startswith(mount["mount_path"] + "/")
    assert set(launcher["config"]["env_config_maps"]) | set(launcher["config"]["env_secrets"]) == {
        "chaffee-env", "chaffee-db"}


def test_executor_config_passes_dagster_k8s_schema_and_fits_the_steps():
    config = yaml.safe_load(K8S_EXECUTOR_CONFIG.read_text())
    checked = process_config(k8s_job_executor.config_schema.config_type, config)
    assert checked.success, checked.errors
    queues = step_queues(defs.resolve_job_def("ingest"))
    per_step = config["per_step_k8s_config"]
    assert set(per_step) <= set(queues), f"configured steps the job does not have: {set(per_step) - set(queues)}"
    for step, queue in queues.items():
        limits = per_step.get(step, config["step_k8s_config"])["container_config"]["resources"]["limits"]
        assert "cpu" in limits, step
        assert (limits.get("nvidia.com/gpu") == 1) == (queue == "gpu"), f"{step} ({queue}): {limits}"


def test_ingest_job_takes_the_k8s_executor_from_the_setting():
    job = dg.define_asset_job("k8s_probe", selection=dg.AssetSelection.groups("speech"),
                              executor_def=executor_def(Settings(executor="k8s"))).resolve(
        asset_graph=defs.resolve_asset_graph())
    assert job.executor_def.name == "k8s"
    with pytest.raises(ValueError, match="CHAFFEE_EXECUTOR"):
        executor_def(Settings(executor="k8"))


def test_only_image_storage_class_and_database_url_are_left_to_fill_in():
    text = MANIFESTS.read_text() + K8S_EXECUTOR_CONFIG.read_text()
    assert set(re.findall(r"FILL_IN_\w+", text)) == {"FILL_IN_IMAGE", "FILL_IN_STORAGE_CLASS", "FILL_IN_DATABASE_URL"}
