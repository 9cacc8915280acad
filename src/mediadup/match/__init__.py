"""Match: fingerprints -> verified pairs. Candidates come from a Hamming index over the hashes;
each candidate pair is then verified on colour, pixels and geometry (`compare`, `video_compare`)."""
