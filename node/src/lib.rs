//! faultline-node: the Raft/KV node that faultline tests by default.
//!
//! Being built (issue 3): a sans-IO Raft core, a write-ahead log with snapshots, a KV state
//! machine with client sessions, a tokio runtime with an HTTP/JSON client API, and a seeded
//! simulator.
