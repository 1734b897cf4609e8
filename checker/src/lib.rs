//! faultline-checker (being built).
