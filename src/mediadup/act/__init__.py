"""Act: groups -> a plan (actions as plain values, or an edited plan file) -> actions carried out
under the catalog's lock and journaled, so that `undo` restores them."""
