"""Synthetic data generators with documented definitions and seeds (nothing is downloaded)."""
