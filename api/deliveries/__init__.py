"""Deliveries over HTTP: a steward hands in a file for a dataset and follows it to its end."""
