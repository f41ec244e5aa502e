"""`aijobs`: the command line for the aijobs HTTP API."""
