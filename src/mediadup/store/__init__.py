"""Store: the catalog, one SQLite file of files, fingerprints, verdicts, scans, decisions and the
journal of every apply."""
