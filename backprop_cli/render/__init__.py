"""Renderers: one module per output format; each reads a Result and nothing else."""
