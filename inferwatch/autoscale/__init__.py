"""`inferwatch autoscale`: KEDA and HPA manifests that scale a model server on the catalogue's
engine-independent signals (requests waiting per replica, KV-cache usage)."""
