"""`mediadup review`: decide in a browser, side by side, then apply and undo from there."""
