"""Helpers for dgr's own tests and benchmarks (not part of the plugin API): ``tiny_pipelines``
builds random-weight miniatures of the DiT and Stable Diffusion layouts."""
