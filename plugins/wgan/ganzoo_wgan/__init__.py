"""WGAN for ganzoo. Kept empty so that reading the manifest imports nothing heavy."""
