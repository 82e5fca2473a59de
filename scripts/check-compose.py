#!/usr/bin/env python3
"""Sanity check of docker/docker-compose.yml without a Docker engine.

Checks the keys the deployment relies on (hardening, health checks, restart policy, resource
limits, secrets, grace period) and that every file or directory the compose file names on the
host side exists in the repository, and that the Prometheus configuration the compose file mounts
scrapes the jadevectordb service with the scrape-token secret. (--strict is accepted for
compatibility; every check is strict.)

Usage: scripts/check-compose.py [--strict] [docker/docker-compose.yml]
Exit status: 0 clean, 1 problems (each printed), 2 usage or unreadable file.
"""
import os
import sys

import yaml

args = [a for a in sys.argv[1:] if a != "--strict"]
strict = "--strict" in sys.argv[1:]
repo = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
path = args[0] if args else os.path.join(repo, "docker", "docker-compose.yml")
base = os.path.dirname(os.path.abspath(path))
try:
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
except (OSError, yaml.YAMLError) as error:
    print(f"check-compose: cannot read {path}: {error}")
    sys.exit(2)

problems = []
pending = []


def need(cond, message):
    if not cond:
        problems.append(message)


def host_path(relative, what):
    full = os.path.normpath(os.path.join(base, relative))
    if os.path.exists(full):
        return
    rel = os.path.relpath(full, repo)
    problems.append(f"{what}: {rel} does not exist")


services = doc.get("services") or {}
for name in ("jadevectordb", "prometheus", "grafana"):
    need(name in services, f"service {name} is missing")

secrets = doc.get("secrets") or {}
for name, secret in secrets.items():
    # Secret files are created by the operator; their directory must exist and be git-ignored.
    directory = os.path.dirname(os.path.normpath(os.path.join(base, secret.get("file", ""))))
    need(os.path.isfile(os.path.join(directory, ".gitignore")), f"secret {name}: {directory}/.gitignore missing")

for name, service in services.items():
    need(service.get("restart") in ("unless-stopped", "always", "on-failure"), f"{name}: restart policy")
    need("healthcheck" in service and service["healthcheck"].get("test"), f"{name}: healthcheck")
    need(service.get("cap_drop") == ["ALL"], f"{name}: cap_drop must be [ALL]")
    need("no-new-privileges:true" in (service.get("security_opt") or []), f"{name}: no-new-privileges")
    need(service.get("read_only") is True, f"{name}: read_only root filesystem")
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    need("cpus" in limits and "memory" in limits, f"{name}: resource limits (cpus, memory)")
    for secret in service.get("secrets") or []:
        need((secret if isinstance(secret, str) else secret.get("source")) in secrets, f"{name}: secret {secret} undefined")
    for volume in service.get("volumes") or []:
        source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith(".") or source.startswith("/"):
            host_path(source, f"{name}: volume")
    build = service.get("build")
    if build:
        context = build.get("context", ".") if isinstance(build, dict) else build
        host_path(context, f"{name}: build context")
        if isinstance(build, dict) and "dockerfile" in build:
            host_path(os.path.join(context, build["dockerfile"]), f"{name}: dockerfile")

server = services.get("jadevectordb") or {}
env = server.get("environment") or {}
for key, value in {
    "JADEVECTORDB_ENV": "production",
    "JADEVECTORDB_DATA_DIR": "/data",
    "JADEVECTORDB_HOST": "0.0.0.0",
}.items():
    need(env.get(key) == value, f"jadevectordb: environment {key} must be {value}")
for key in ("ADMIN_PASSWORD", "TOTP_ENCRYPTION_KEY", "SCRAPE_TOKEN"):
    value = env.get(f"JADEVECTORDB_{key}_FILE", "")
    need(value.startswith("/run/secrets/"), f"jadevectordb: JADEVECTORDB_{key}_FILE must point into /run/secrets")
    need(f"JADEVECTORDB_{key}" not in env, f"jadevectordb: JADEVECTORDB_{key} must not be set in plain text")
need(server.get("stop_grace_period") == "45s", "jadevectordb: stop_grace_period must be 45s")
need(any(str(v).endswith(":/data") for v in server.get("volumes") or []), "jadevectordb: /data volume")
need(any(str(t).startswith("/tmp") for t in server.get("tmpfs") or []), "jadevectordb: tmpfs /tmp")

# Prometheus reads /etc/prometheus/prometheus.yml: the mounted file must scrape the jadevectordb
# service on its container port with the scrape token from the service's Docker secret.
prometheus = services.get("prometheus") or {}
mounted = {}
for volume in prometheus.get("volumes") or []:
    parts = volume.split(":") if isinstance(volume, str) else []
    if len(parts) >= 2:
        mounted[parts[1]] = parts[0]
config_source = mounted.get("/etc/prometheus/prometheus.yml")
need(config_source is not None, "prometheus: /etc/prometheus/prometheus.yml is not mounted")
need("/etc/prometheus/alerts.yml" in mounted, "prometheus: the alert rules are not mounted next to its config")
if config_source:
    try:
        with open(os.path.normpath(os.path.join(base, config_source)), encoding="utf-8") as f:
            scrape = yaml.safe_load(f)
    except OSError as error:
        scrape = {}
        problems.append(f"prometheus: cannot read {config_source}: {error}")
    jobs = {job.get("job_name"): job for job in scrape.get("scrape_configs") or []}
    job = jobs.get("jadevectordb") or {}
    need(bool(job), "prometheus config: job jadevectordb missing")
    targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
    port = str(env.get("JADEVECTORDB_PORT", "8080"))
    need(f"jadevectordb:{port}" in targets, f"prometheus config: target must be jadevectordb:{port}, not {targets}")
    token_file = (job.get("authorization") or {}).get("credentials_file", "")
    secret_names = [s if isinstance(s, str) else s.get("source") for s in prometheus.get("secrets") or []]
    need(
        token_file.startswith("/run/secrets/") and token_file.rsplit("/", 1)[-1] in secret_names,
        f"prometheus config: credentials_file {token_file!r} must be one of its secrets in /run/secrets",
    )
    need("alerts.yml" in (scrape.get("rule_files") or []), "prometheus config: rule_files must name alerts.yml")

for line in pending:
    print(f"pending: {line}")
for line in problems:
    print(f"problem: {line}")
sys.exit(1 if problems else 0)
