"""deploy/ as an instructor gets it, read without a hub: who may log in, what every
student's server starts with, and what the image holds.

No Docker engine or Kubernetes here: the Dockerfile is read, not built, and the
Kubernetes files are parsed. tests/test_hub.py starts a real hub from the same file.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_CONFIG = ROOT / "deploy" / "jupyterhub_config.py"


def _deploy_config(hub_dir, monkeypatch):
    """deploy/jupyterhub_config.py as a plain JupyterHub loads it, with ``hub_dir`` as
    the hub's folder."""
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("COURSE_HUB_DIR", str(hub_dir))
    return PyFileConfigLoader(DEPLOY_CONFIG.name, str(DEPLOY_CONFIG.parent)).load_config()


def test_the_hub_lets_in_exactly_the_names_in_its_files(tmp_path, monkeypatch):
    (tmp_path / "allowed_users.txt").write_text("# class of 2026\nanna\nbo  # late enrolment\n\n")
    (tmp_path / "admin_users.txt").write_text("teacher\n")
    config = _deploy_config(tmp_path, monkeypatch)
    assert config.Authenticator.allowed_users == {"anna", "bo"}
    assert config.Authenticator.admin_users == {"teacher"}
    # The file is the whole list: nobody stays allowed because the database knows them.
    assert config.Authenticator.allow_existing_users is False
    assert "allow_all" not in config.Authenticator
    assert config.JupyterHub.db_url == f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"


def test_without_a_list_of_students_the_hub_says_so_and_does_not_start(tmp_path, monkeypatch):
    with pytest.raises(SystemExit) as stopped:
        _deploy_config(tmp_path, monkeypatch)
    message = str(stopped.value)
    assert "nobody may log in" in message and str(tmp_path / "allowed_users.txt") in message


def test_deploy_config_gives_students_the_course_environment(tmp_path, monkeypatch):
    """The instructor's file itself: what every student's server starts with."""
    (tmp_path / "allowed_users.txt").write_text("student1\n")
    config = _deploy_config(tmp_path, monkeypatch)
    env = config.Spawner.environment
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        assert env[name] == "1", name
    assert "COURSE_LIB_MNIST_SOURCE" not in env, "production students must get full MNIST"
    assert Path(env["COURSE_LIB_DATA"]).is_absolute()
    assert config.Spawner.mem_limit
    start = " ".join(config.Spawner.cmd)
    assert "-m course_lib notebooks --update" in start and "exec" in start, start

    # Kubernetes gets the same per-student settings.
    yaml = pytest.importorskip("yaml")  # PyYAML comes with the test extras

    values = yaml.safe_load((ROOT / "deploy" / "z2jh-values.yaml").read_text())
    single = values["singleuser"]
    k8s_env = single["extraEnv"]
    for name, value in env.items():
        assert str(k8s_env.get(name)) == value, f"z2jh-values.yaml: extraEnv.{name}"
    assert "COURSE_LIB_MNIST_SOURCE" not in k8s_env
    assert single["memory"]["limit"] == config.Spawner.mem_limit
    post_start = " ".join(single["lifecycleHooks"]["postStart"]["exec"]["command"])
    assert "-m course_lib notebooks --update" in post_start
    # A student's home is sized for what a student keeps (not the chart's 10Gi).
    assert single["storage"]["capacity"] == "1Gi"

    # And so does the image (its ENV instruction, continued over several lines).
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    image_env = dict(re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$", dockerfile, re.M))
    for name, value in env.items():
        assert image_env.get(name) == value, f"Dockerfile: ENV {name}"


def test_the_image_works_without_a_data_volume_and_the_volume_is_optional():
    """What can be checked without a Docker engine (none here): the Dockerfile is read,
    not built; the Kubernetes files are parsed."""
    yaml = pytest.importorskip("yaml")  # PyYAML comes with the test extras

    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    data = dict(re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$", dockerfile, re.M))[
        "COURSE_LIB_DATA"
    ]
    # Full MNIST is put at COURSE_LIB_DATA inside the image, by the loader (checksummed),
    # and the image's last check reads it from there.
    joined = dockerfile.replace("\\\n", " ")  # continued lines as one
    steps = re.findall(r"^RUN (.*)$", joined, re.M)
    runs = " ".join(steps)
    assert "load_mnist(source='download')" in runs
    assert f"mv /tmp/mnist-cache/course_lib/mnist {data}" in runs
    assert "assert d.source == 'data_dir'" in steps[-1]
    # A maintained base image: docker-stacks' dated tags (its python-3.11 tag stopped
    # moving when it moved on to newer Pythons).
    (base,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.M)
    assert re.fullmatch(r"quay\.io/jupyter/base-notebook:20\d\d-\d\d-\d\d", base), base
    assert re.search(r"pip install .*nbgitpuller", dockerfile)

    # Without the optional volume nothing is mounted over it; with it, read-only there.
    values = yaml.safe_load((ROOT / "deploy" / "z2jh-values.yaml").read_text())
    assert "extraVolumes" not in values["singleuser"]["storage"]
    overlay = yaml.safe_load((ROOT / "deploy" / "z2jh-data-volume.yaml").read_text())
    (mount,) = overlay["singleuser"]["storage"]["extraVolumeMounts"]
    assert mount["mountPath"] == data and mount["readOnly"] is True
    (volume,) = overlay["singleuser"]["storage"]["extraVolumes"]
    claim = yaml.safe_load((ROOT / "deploy" / "course-data-pvc.yaml").read_text())
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]
