"""Harbour: safety-planning workflows for youth programs."""

__version__ = "0.1.0"
