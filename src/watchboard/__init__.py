"""watchboard: the duty room's system for online public-opinion incidents (网络舆情)."""

__version__ = "0.1.0"
