"""Offline pipeline: data readers, zero-shot splits, encoder/scorer training, evaluation and export.

Submodules are imported on demand (``training.splits``, ``training.readers``, ...) so that importing the
package stays cheap.
"""
