"""Shared core of the SCALE service: skeleton I/O, Shift-GCN, the SCALE CVAE scorer, text encoding, bundles."""
