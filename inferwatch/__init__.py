"""inferwatch: observability and alerting for LLM inference clusters."""

__version__ = "0.1.0"
