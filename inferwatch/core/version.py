"""The version of inferwatch, in the base layer so that every part can name it."""

__version__ = "0.1.0"
