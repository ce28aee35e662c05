"""Engine: one bundle's serving state: loading, onnxruntime inference, micro-batching, policy, isolation, text conditioning, scoring, hot reload."""
