"""Batch-invariant kernels (matmul, RMSNorm, attention) with XLA references."""
