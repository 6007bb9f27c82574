"""The deployment files: the compose file's shape, real settings only, and Trino's and Spark's
catalog files agreeing with what Gongyu's own settings produce."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from catalog.lakehouse import CATALOG_NAME
from gongyu.cli import app
from gongyu.engines import jdbc_url
from gongyu.ground.settings import Settings
from gongyu.platform import Platform

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
GONGYU_SERVICES = {"api", "dagster-daemon"}
VARIABLE = re.compile(r"\$\{(\w+)(?::[?-][^}]*)?\}")


def compose() -> dict[str, Any]:
    """The compose file as YAML (anchors and merge keys resolved)."""
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def gongyu_env() -> dict[str, str]:
    """The API workers' GONGYU_* environment, `${VAR}` references filled with a placeholder."""
    env = compose()["services"]["api"]["environment"]
    return {k: VARIABLE.sub("placeholder", str(v)) for k, v in env.items()}


def deployed_platform(tmp_path: Path) -> Platform:
    """A platform built from the compose file's settings (nothing is reached: no I/O yet)."""
    fields = {k.removeprefix("GONGYU_").lower(): v for k, v in gongyu_env().items()}
    fields.update(home=tmp_path / "ws", pseudonym_key_file=tmp_path / "keys.json")
    return Platform(Settings(**fields))


def properties(path: Path) -> dict[str, str]:
    """A Java properties file (`key=value`, `#` comments)."""
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string("[top]\n" + path.read_text(encoding="utf-8"))
    return dict(parser["top"])


def spark_defaults(path: Path) -> dict[str, str]:
    """spark-defaults.conf: `key  value` per line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = [line.split(None, 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key: value.strip() for key, value in pairs}


def test_compose_services_images_commands_and_ports() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "minio", "minio-bucket"} | GONGYU_SERVICES
    for name, service in services.items():
        assert service.get("image"), f"{name} has no image"
    api = services["api"]["command"]
    assert api[:2] == ["gongyu", "serve"] and int(api[api.index("--workers") + 1]) > 1
    assert services["api"]["ports"] == ["8000:8000"]
    # Dagster's UI has no sign-in: it is served only inside the API, never on a port of its own.
    assert services["api"]["environment"]["GONGYU_DAGSTER_UI"] == "true"
    assert not any("dagster-webserver" in str(s.get("command")) for s in services.values())
    assert "dagster-daemon run" in services["dagster-daemon"]["command"][-1]
    for name in GONGYU_SERVICES:
        service = services[name]
        assert service["environment"] == services["api"]["environment"]
        assert {"postgres", "minio-bucket"} <= set(service["depends_on"])
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "gongyu"


def test_every_gongyu_variable_in_deploy_files_is_a_setting() -> None:
    real = {f"GONGYU_{name.upper()}" for name in Settings.model_fields}
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            used = set(re.findall(r"\bGONGYU_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
            assert used <= real, f"{path.name}: not settings: {sorted(used - real)}"
    assert set(gongyu_env()) <= real


def test_the_deployed_settings_are_valid(tmp_path: Path) -> None:
    platform = deployed_platform(tmp_path)
    assert platform.settings.s3_endpoint == "minio:9000" and not platform.settings.s3_secure
    assert platform.store.warehouse == "s3://gongyu/warehouse"
    assert jdbc_url(platform.workspace.catalog_url) == "jdbc:postgresql://postgres:5432/gongyu"


def test_trino_attaches_the_same_catalog_and_bucket(tmp_path: Path) -> None:
    platform = deployed_platform(tmp_path)
    trino = properties(DEPLOY / "trino" / "catalog" / "gongyu.properties")
    assert trino["connector.name"] == "iceberg" and trino["iceberg.catalog.type"] == "jdbc"
    assert trino["iceberg.jdbc-catalog.catalog-name"] == CATALOG_NAME
    assert trino["iceberg.jdbc-catalog.connection-url"] == jdbc_url(platform.workspace.catalog_url)
    assert trino["iceberg.jdbc-catalog.driver-class"] == "org.postgresql.Driver"
    assert trino["iceberg.jdbc-catalog.default-warehouse-dir"] == platform.store.warehouse
    assert trino["fs.native-s3.enabled"] == "true"
    assert trino["s3.endpoint"] == platform.store.iceberg_properties["s3.endpoint"]
    assert trino["s3.region"] == platform.settings.s3_region
    assert trino["s3.path-style-access"] == "true"
    assert all("${ENV:" in trino[k] for k in ("s3.aws-secret-key", "s3.aws-access-key"))


def test_spark_attaches_the_same_catalog_and_bucket(tmp_path: Path) -> None:
    platform = deployed_platform(tmp_path)
    spark = spark_defaults(DEPLOY / "spark" / "spark-defaults.conf")
    # Iceberg's JdbcCatalog keys rows by the Spark catalog's name: it must be pyiceberg's.
    prefix = f"spark.sql.catalog.{CATALOG_NAME}"
    assert spark[prefix] == "org.apache.iceberg.spark.SparkCatalog"
    assert spark[f"{prefix}.catalog-impl"] == "org.apache.iceberg.jdbc.JdbcCatalog"
    assert spark[f"{prefix}.uri"] == jdbc_url(platform.workspace.catalog_url)
    assert spark[f"{prefix}.warehouse"] == platform.store.warehouse
    assert spark[f"{prefix}.io-impl"] == "org.apache.iceberg.aws.s3.S3FileIO"
    assert spark[f"{prefix}.s3.endpoint"] == platform.store.iceberg_properties["s3.endpoint"]
    assert spark[f"{prefix}.s3.path-style-access"] == "true"
    assert spark[f"{prefix}.client.region"] == platform.settings.s3_region
    assert not any("password" in key or "secret" in key for key in spark)


def test_dagster_home_writes_postgres_storage(tmp_path: Path) -> None:
    env = {
        "GONGYU_HOME": str(tmp_path / "ws"),
        "GONGYU_DATABASE_URL": gongyu_env()["GONGYU_DATABASE_URL"],
    }
    result = CliRunner().invoke(app, ["dagster-home"], env=env)
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((Path(result.stdout.strip()) / "dagster.yaml").read_text())
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "GONGYU_DATABASE_URL"}}}


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI: the structural tests above stand in for `compose config`")
    check = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if check.returncode != 0:
        pytest.skip("the docker CLI has no compose plugin")
    env = {"POSTGRES_PASSWORD": "x", "MINIO_ROOT_PASSWORD": "x", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
