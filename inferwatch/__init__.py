"""inferwatch: observability and alerting for LLM inference clusters."""

from inferwatch.core.version import __version__

__all__ = ["__version__"]
