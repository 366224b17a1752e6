"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from onceonly.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
HUB_SERVICES = [name for name, svc in SERVICES.items() if str(svc.get("image", "")).startswith("onceonly:")]
# Variables only the embedded local run reads (where to cache the broker's jars on a laptop).
LOCAL_ONLY = {"ONCEONLY_KAFKA_CACHE", "ONCEONLY_REQUIRE_POSTGRES", "ONCEONLY_REQUIRE_BROWSER",
              "ONCEONLY_REQUIRE_AUDIT"}  # ... and what CI reads (.ci/audit_deps.py)


def test_the_production_stack_has_kafka_postgres_prefect_workers_and_the_query_service() -> None:
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:3.9.")
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert SERVICES["prefect-server"]["image"].startswith("prefecthq/prefect:3.8.8")
    assert SERVICES["worker"]["deploy"]["replicas"] >= 2
    assert "serve" in SERVICES["api"]["command"]


def test_every_image_is_pinned_to_a_tag() -> None:
    for name, svc in SERVICES.items():
        image = svc["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{name}: {image} is not pinned"
        assert not image.endswith(":latest"), name


def test_long_running_services_have_healthchecks_and_state_has_named_volumes() -> None:
    for name in ("kafka", "postgres", "prefect-server", "worker", "api", "prometheus", "grafana"):
        assert "healthcheck" in SERVICES[name], name
    assert {"kafka-data", "postgres-data"} <= set(COMPOSE["volumes"])


def test_every_setting_the_code_reads_is_set_for_the_hub_services() -> None:
    read_by_code = {f"ONCEONLY_{name.upper()}" for name in Settings.model_fields}
    for path in [*ROOT.glob("*/**/*.py"), *ROOT.glob("mappings/*.yaml")]:
        if {".venv", "tests", "bench"} & set(path.parts):  # benchmarks are not services
            continue
        read_by_code |= set(re.findall(r"ONCEONLY_[A-Z_]+", path.read_text(encoding="utf-8")))
    read_by_code -= LOCAL_ONLY
    assert HUB_SERVICES
    for name in HUB_SERVICES:
        missing = read_by_code - set(SERVICES[name]["environment"])
        assert not missing, f"{name} does not set {sorted(missing)}"


def _mounts(service: str) -> dict[str, Path]:
    """A service's bind mounts from the repository: container path → file or folder here."""
    found = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[target] = ROOT / source
    return found


def test_prometheus_and_grafana_run_with_their_config_from_the_repository() -> None:
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:v3.")
    assert SERVICES["grafana"]["image"].startswith("grafana/grafana:")
    for service in ("prometheus", "grafana"):
        mounts = _mounts(service)
        assert mounts, service
        for target, source in mounts.items():
            assert source.exists(), f"{service}: {source} (mounted at {target}) is not in the repository"
    assert {"prometheus-data", "grafana-data"} <= set(COMPOSE["volumes"])
    assert "GF_SECURITY_ADMIN_PASSWORD" in SERVICES["grafana"]["environment"]
    assert SERVICES["grafana"]["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_prometheus_scrapes_the_query_service_with_its_token_and_every_worker_replica() -> None:
    env = COMPOSE["x-onceonly-env"]
    config = yaml.safe_load(_mounts("prometheus")["/etc/prometheus/prometheus.yml"].read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["onceonly-api"]
    assert api["static_configs"][0]["targets"] == [f"api:{env['ONCEONLY_API_PORT']}"]
    token_file = api["authorization"]["credentials_file"]
    command = " ".join(SERVICES["prometheus"]["command"])
    assert f"> {token_file}" in command and "$$ONCEONLY_METRICS_TOKEN" in command
    assert "ONCEONLY_METRICS_TOKEN" in SERVICES["prometheus"]["environment"] and "ONCEONLY_METRICS_TOKEN" in env
    # the compose network's DNS answers "worker" with every replica's address, "resolver" with the resolver's
    workers = jobs["onceonly-worker"]["dns_sd_configs"][0]
    assert workers["names"] == ["worker", "resolver"] and workers["type"] == "A"
    assert str(workers["port"]) == env["ONCEONLY_METRICS_PORT"] != "0"
    assert env["ONCEONLY_METRICS_HOST"] == "0.0.0.0"  # reachable from the prometheus container
    assert "9100" not in str(SERVICES["worker"].get("ports", []))  # ... and from no other machine
    assert "9100" not in str(SERVICES["resolver"].get("ports", []))


def test_every_agent_runs_somewhere_and_the_raw_topics_readers_together() -> None:
    from streams.app import AGENTS

    def agents(service: str) -> set[str]:
        command = SERVICES[service]["command"]
        return set(command[command.index("--agents") + 1].split(","))

    assert agents("resolver") | agents("worker") == set(AGENTS)
    assert {"ledger", "standardise"} <= agents("worker")


def test_grafana_provisions_the_datasource_and_the_dashboard_it_shows() -> None:
    mounts = _mounts("grafana")
    provisioning = mounts["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "onceonly.yml").read_text())["providers"][0]
    dashboards = provider["options"]["path"]
    assert mounts[dashboards] == ROOT / "deploy" / "grafana" / "dashboards"
    import json

    dashboard = json.loads((mounts[dashboards] / "onceonly.json").read_text(encoding="utf-8"))
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]


# -- issue 14, item 5: Kafka with SASL_SSL, SCRAM and ACLs; PostgreSQL with its own credentials ------

def _kafka_properties() -> dict[str, str]:
    """The broker's server.properties as deploy/kafka/start.sh writes them (its heredoc)."""
    script = (ROOT / "deploy" / "kafka" / "start.sh").read_text(encoding="utf-8")
    body = script.split('cat > "$config" <<PROPERTIES\n', 1)[1].split("\nPROPERTIES", 1)[0]
    return dict(line.split("=", 1) for line in body.splitlines() if line and not line.startswith("#"))


def test_kafka_takes_clients_only_over_sasl_ssl_with_scram_and_an_authorizer() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["entrypoint"][-1] == "/opt/onceonly/start.sh"
    assert _mounts("kafka")["/opt/onceonly/start.sh"] == ROOT / "deploy" / "kafka" / "start.sh"
    props = _kafka_properties()
    assert props["listeners"] == "SASL_SSL://:${port},CONTROLLER://localhost:${controller_port}"  # controller: loopback
    assert props["advertised.listeners"] == "SASL_SSL://${host}:${port}"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512" and props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["ssl.keystore.location"].endswith("/kafka.keystore.p12")
    assert "PLAINTEXT://" not in " ".join(str(v) for v in kafka.get("environment", {}).values())
    assert "--add-scram" in (ROOT / "deploy" / "kafka" / "start.sh").read_text(encoding="utf-8")


def test_no_tls_material_is_checked_in_and_the_script_that_makes_it_is() -> None:
    import subprocess

    assert (ROOT / "deploy" / "kafka" / "make-certs.sh").is_file()
    tracked = subprocess.run(["git", "ls-files", "deploy/kafka"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert not [f for f in tracked if f.endswith((".p12", ".pem", ".key", "keystore_password"))], tracked
    assert "deploy/kafka/secrets" in (ROOT / ".dockerignore").read_text()  # never copied into the image
    assert "/deploy/kafka/secrets/" in (ROOT / ".gitignore").read_text()


def test_one_acl_set_per_kafka_principal_is_created_before_the_hub_starts() -> None:
    init = SERVICES["kafka-init"]
    script = (ROOT / "deploy" / "kafka" / "init-acls.sh").read_text(encoding="utf-8")
    assert init["entrypoint"][-1] == "/opt/onceonly/init-acls.sh"
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert SERVICES["init"]["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    principals = set(re.findall(r'allow "?\$?\{?([\w-]+)', script)) - {"principal"}
    assert {"hub", "dept-", "housing-registry"} <= {p if not p.startswith("dept-") else "dept-" for p in principals}
    # departments read only the published topic, in their own consumer groups
    assert 'allow "dept-$department" Read Describe -- --topic profiles.published' in script
    assert 'allow "dept-$department" Read -- --group "dept-$department"' in script
    assert "kafka-configs.sh" in script and "SCRAM-SHA-512=[" in script


def test_the_hub_services_connect_to_kafka_with_tls_and_their_own_scram_user() -> None:
    for name in HUB_SERVICES:
        env = SERVICES[name]["environment"]
        assert env["ONCEONLY_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["ONCEONLY_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["ONCEONLY_KAFKA_SASL_USERNAME"] == "onceonly-hub"
        assert env["ONCEONLY_KAFKA_SASL_PASSWORD"].startswith("${ONCEONLY_KAFKA_SASL_PASSWORD:?")  # required
        cafile = env["ONCEONLY_KAFKA_SSL_CAFILE"]
        assert _mounts(name)[cafile] == ROOT / "deploy" / "kafka" / "secrets" / "ca.pem", name
    assert Settings(kafka_security_protocol="SASL_SSL").kafka_security_protocol == "SASL_SSL"


def test_postgres_runs_with_its_own_credentials_from_the_environment() -> None:
    postgres = SERVICES["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")  # no default: compose refuses to start
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "onceonly:onceonly@" not in text and "PGPASSWORD: onceonly" not in text
    url = COMPOSE["x-onceonly-env"]["ONCEONLY_DATABASE_URL"]
    assert "${POSTGRES_USER" in url and "${POSTGRES_PASSWORD:?" in url
    assert "${POSTGRES_PASSWORD:?" in SERVICES["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
