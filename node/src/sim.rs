//! The seeded deterministic simulator (being built).
