"""One module per schema revision; a revision never changes once released."""
