"""CUT and FastCUT for ganzoo: one generator, one discriminator, PatchNCE instead of a cycle."""
