"""Report: a scan's result for people (text, the HTML review page) and programs (CSV; the JSON
plan file lives with the actions, in `act.planfile`)."""
