//! Unit tests of the core: a core in a known state, one event, the exact actions.
