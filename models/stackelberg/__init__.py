"""Stackelberg pricing game on BPAT data (Symmetry 2023, 15, 443): model family ``stackelberg_pricing``."""
