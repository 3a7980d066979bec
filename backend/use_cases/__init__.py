"""Industry use-case catalogue drawn from the source documents, its task matrix and its search."""
