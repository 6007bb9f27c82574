"""Gongyu (공유): the data commons of Korea's public institutions."""

__version__ = "0.1.0"
