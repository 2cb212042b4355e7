"""Knowledge-base file loaders: typed by extension, safe against bad files, chunked."""
