"""Fingerprint: files -> fingerprints. Pictures and videos are decoded once (in worker processes,
or on a Dask cluster) into perceptual hashes, thumbnails, colour histograms and quality signals."""
