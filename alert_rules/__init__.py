"""Alert rules: one rule language, compiled to Prometheus rules or evaluated in process."""
