"""The cache: a content-addressed blob store, step results, and file-digest memory."""
