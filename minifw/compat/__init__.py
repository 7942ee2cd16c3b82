"""Compatibility front doors: other frameworks' file formats and styles."""
