"""Untrimmed sequences: sliding-window detection for /detect and the per-connection state of /streams."""
