"""The per-node exporter: collectors on a loop, one snapshot served at /metrics."""
