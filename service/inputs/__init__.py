"""Inputs: parsing and validation of every request body and option (JSON, .npy, PKU-MMD text, layouts, HTTP framing), their OpenAPI examples, and the warnings about them that travel in answers."""
