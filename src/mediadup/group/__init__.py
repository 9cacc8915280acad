"""Group: verified pairs -> groups around a keeper (the best copy, `rank`), with no chains; similar
shots apart; the user's "not duplicates" decisions respected."""
