"""A person's data (export, erase) and the shared finding of every row about them."""
