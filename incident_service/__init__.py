"""Self-hosted incident management service."""

__version__ = "0.1.0"
