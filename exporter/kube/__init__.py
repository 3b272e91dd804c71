"""Kubernetes for the node exporter: pods on this node from the API server, PIDs to pods.

client: an in-cluster API client over aiohttp (service-account token and CA).
pods: annotated pods to engine Targets; the PodDirectory (pod UID to names) for attribution.
discovery: the list/watch loop keeping both up to date.
procs: /proc/<pid>/cgroup to pod UID and container id, cached per (pid, start time).
"""
