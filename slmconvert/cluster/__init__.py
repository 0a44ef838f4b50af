"""Task discovery: signatures, embeddings, HDBSCAN clusters, labels, splits and the router seed."""
