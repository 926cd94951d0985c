"""Kinema: open, self-hostable video generation."""

__version__ = "0.1.0"
