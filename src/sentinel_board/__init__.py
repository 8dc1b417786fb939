"""A message board on Redis with Sentinel high availability."""

__version__ = "0.1.0"
