"""Heads own their losses: DeepMask head C, SharpMask refinement, FPN mask MLPs."""
