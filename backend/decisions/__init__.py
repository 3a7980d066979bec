"""From the market, the catalogue and this server's measurements to a decision: which use cases
first (``scoring``) and what running them costs (``cost``), every input cited or measured."""
