"""Measure: copies made on the spot (pictures and footage) to measure accuracy on the user's own
media (`mediadup calibrate`), in tests and in benchmarks."""
