//! Unit tests of the simulator's tricky parts.
