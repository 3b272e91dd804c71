"""Grafana dashboards as code: grafanalib panels on catalogue specs, built into Grafana JSON."""
