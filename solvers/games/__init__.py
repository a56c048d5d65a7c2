"""Game engine: bilevel (Stackelberg) and Nash solution methods on plain Pyomo models."""
