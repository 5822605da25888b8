"""Benchmarks and reports built on mural_inpaint.pipeline and mural_inpaint.metrics (next milestone)."""
