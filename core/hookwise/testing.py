"""pytest plugin for plugin authors (the toolkit issue fills this in)."""
